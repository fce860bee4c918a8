"""The agent's disk buffer: results that could not be pushed, kept until the node takes them.

A folder of JSON-lines segments (``seg-<counter>.jsonl``, one pushed result per line) plus
``state.json`` (the segment counter and the agent's totals, so a restart keeps counting). A
segment is rolled at 1 MiB or ``BATCH`` lines, whichever comes first, so one segment is one
push (at most 1,000 results and well under the protocol's 4 MiB). When the folder outgrows its
cap, whole segments go, oldest first, and their lines are counted in ``dropped``. A segment is
deleted only after the node accepted its push (``accepted``): a crash in between sends it
again (at least once, never lost).

Every method that touches files runs them on a thread (``asyncio.to_thread``); calls are
expected one at a time (the agent's runner is one loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from watchkeeper.units import format_size

log = logging.getLogger("watchkeeper.agent")

SEGMENT_BYTES = 1024 * 1024
"""A segment is rolled past this size (or the cap's eighth, for a small cap)."""
BATCH = 1000
"""Lines in one segment at most: one segment is pushed as one batch."""
STATE_FILE = "state.json"
_SEGMENT = re.compile(r"seg-(\d+)\.jsonl")


@dataclass(slots=True)
class Counters:
    """The agent's totals, kept across restarts: results made, accepted by the node, and
    dropped (a full buffer's oldest, or a batch the node called malformed or too large)."""

    checks: int = 0
    pushed: int = 0
    dropped: int = 0


@dataclass(slots=True)
class Segment:
    """One segment file: its number (the order), lines and bytes."""

    number: int
    path: Path
    lines: int = 0
    size: int = 0


@dataclass(slots=True)
class Batch:
    """The oldest segment's results, ready to push; ``accepted`` deletes its segment."""

    segment: Segment
    results: list[dict[str, Any]]


class BufferError(OSError):
    """The buffer's folder cannot be used (one line: which and why)."""


class Buffer:
    def __init__(self, folder: Path, cap: int, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        if cap <= 0:
            raise ValueError("the buffer's cap must be positive")
        self.folder = folder
        self.cap = cap
        self.segment_bytes = max(1, min(segment_bytes, cap // 8))
        self.counters = Counters()
        self._segments: deque[Segment] = deque()
        self._next = 1
        self._open: IO[bytes] | None = None  # the newest segment, while appends go to it
        self._full = False  # logged "dropping oldest" since the buffer last shrank by a push

    # -- what it holds -----------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        """Results waiting on disk."""
        return sum(segment.lines for segment in self._segments)

    @property
    def size(self) -> int:
        """Bytes of the segments."""
        return sum(segment.size for segment in self._segments)

    @property
    def segments(self) -> int:
        return len(self._segments)

    # -- life cycle --------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the folder or resume what it holds (segments and totals)."""
        await asyncio.to_thread(self._open_sync)

    async def close(self) -> None:
        """Close the open segment and write the totals."""
        await asyncio.to_thread(self._close_sync)

    async def save(self) -> None:
        """Write the totals (``state.json``) now."""
        await asyncio.to_thread(self._save_state)

    # -- appending and taking ----------------------------------------------------------------
    async def append(self, results: list[dict[str, Any]]) -> None:
        """Keep ``results`` (newest last), dropping the oldest segments past the cap."""
        if results:
            await asyncio.to_thread(self._append_sync, results)

    async def oldest(self) -> Batch | None:
        """The oldest segment's results (its file stays until ``accepted``); None if empty.
        The segment being appended to is closed first: later results go to a new one."""
        return await asyncio.to_thread(self._oldest_sync)

    async def accepted(self, batch: Batch, taken: int) -> None:
        """The node accepted ``batch`` (``taken`` of its results): delete its segment."""
        await asyncio.to_thread(self._remove_sync, batch.segment, taken, 0)

    async def discard(self, batch: Batch) -> None:
        """The node will never take ``batch`` (malformed, too large): delete its segment,
        counting its results as dropped."""
        await asyncio.to_thread(self._remove_sync, batch.segment, 0, batch.segment.lines)

    # -- blocking work (on a thread) ---------------------------------------------------------
    def _open_sync(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            found = sorted(
                (int(match.group(1)), entry)
                for entry in self.folder.iterdir()
                if (match := _SEGMENT.fullmatch(entry.name))
            )
        except OSError as exc:
            raise BufferError(f"buffer {self.folder}: {exc.strerror or exc}") from None
        self._read_state()
        for number, path in found:
            lines, size = _count(path)
            if lines == 0:
                path.unlink(missing_ok=True)
                continue
            self._segments.append(Segment(number, path, lines, size))
            self._next = max(self._next, number + 1)
        self._enforce_cap()

    def _read_state(self) -> None:
        path = self.folder / STATE_FILE
        try:
            state = json.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("buffer %s: %s unreadable (%s), counting from zero", self.folder,
                        STATE_FILE, type(exc).__name__)  # fmt: skip
            return
        if not isinstance(state, dict):
            return
        for name in ("checks", "pushed", "dropped"):
            value = state.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                setattr(self.counters, name, value)
        following = state.get("next")
        if isinstance(following, int) and not isinstance(following, bool) and following > 0:
            self._next = following

    def _save_state(self) -> None:
        state = {
            "next": self._next,
            "checks": self.counters.checks,
            "pushed": self.counters.pushed,
            "dropped": self.counters.dropped,
        }
        path = self.folder / STATE_FILE
        temporary = path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    def _close_sync(self) -> None:
        self._seal()
        self._save_state()

    def _seal(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None

    def _append_sync(self, results: list[dict[str, Any]]) -> None:
        rolled = False
        for result in results:
            line = json.dumps(result, separators=(",", ":")).encode() + b"\n"
            current = self._segments[-1] if self._open is not None else None
            if current is None or not self._fits(current, len(line)):
                current = self._roll()
                rolled = True
            assert self._open is not None
            self._open.write(line)
            current.lines += 1
            current.size += len(line)
        if self._open is not None:
            self._open.flush()
            os.fsync(self._open.fileno())
        if self._enforce_cap() or rolled:  # the totals, and the counter past the new segment
            self._save_state()

    def _fits(self, segment: Segment, size: int) -> bool:
        """Does a line of ``size`` bytes still go into ``segment`` (one line always does)?"""
        if segment.lines == 0:
            return True
        return segment.lines < BATCH and segment.size + size <= self.segment_bytes

    def _roll(self) -> Segment:
        self._seal()
        number = self._next
        self._next += 1
        path = self.folder / f"seg-{number:012d}.jsonl"
        self._open = open(path, "ab")  # noqa: SIM115 - kept open across appends
        segment = Segment(number, path)
        self._segments.append(segment)
        return segment

    def _enforce_cap(self) -> int:
        """Delete the oldest segments while the buffer is over its cap; lines dropped."""
        dropped = 0
        while self._segments and self.size > self.cap:
            segment = self._segments.popleft()
            if not self._segments:
                self._seal()  # it was the one being appended to
            segment.path.unlink(missing_ok=True)
            dropped += segment.lines
        if dropped:
            self.counters.dropped += dropped
            if not self._full:
                self._full = True
                log.warning(
                    "buffer full (%s in %s): dropping the oldest results (%d so far)",
                    format_size(self.cap),
                    self.folder,
                    self.counters.dropped,
                )
        return dropped

    def _oldest_sync(self) -> Batch | None:
        while self._segments:
            segment = self._segments[0]
            if len(self._segments) == 1:
                self._seal()
            results, torn = _read(segment.path)
            if torn:  # counted once: the segment is rewritten without them
                log.warning(
                    "buffer %s: %d unreadable line(s) dropped (a write cut short)",
                    segment.path.name,
                    torn,
                )
                self.counters.dropped += torn
                segment.size = _rewrite(segment.path, results)
                self._save_state()
            if results:
                segment.lines = len(results)
                return Batch(segment, results)
            self._segments.popleft()
            segment.path.unlink(missing_ok=True)
        return None

    def _remove_sync(self, segment: Segment, taken: int, dropped: int) -> None:
        with contextlib.suppress(ValueError):
            self._segments.remove(segment)
        if self._open is not None and not self._segments:
            self._seal()
        segment.path.unlink(missing_ok=True)
        self.counters.pushed += taken
        self.counters.dropped += dropped
        self._full = False
        self._save_state()


def _count(path: Path) -> tuple[int, int]:
    """Lines and bytes of a segment found at start."""
    try:
        data = path.read_bytes()
    except OSError:
        return 0, 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1), len(data)


def _rewrite(path: Path, results: list[dict[str, Any]]) -> int:
    """Replace a segment's file by ``results`` (atomically); its new size."""
    data = b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in results)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return len(data)


def _read(path: Path) -> tuple[list[dict[str, Any]], int]:
    """A segment's results, and how many lines could not be read (a torn last line)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    results: list[dict[str, Any]] = []
    torn = 0
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            torn += 1
            continue
        if isinstance(item, dict):
            results.append(item)
        else:
            torn += 1
    return results, torn
