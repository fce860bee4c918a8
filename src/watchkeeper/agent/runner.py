"""The agent's loop: fetch the assignment, check its monitors with the engine's Scheduler
(the same ``run_check`` path as ``wk up``), and push their Results to the node.

Every ``push_every`` seconds one tick: segments waiting on disk go first (oldest first, one
segment a push), then the Results made since the last tick (at most ``MAX_RESULTS`` and
``PUSH_BYTES`` a push), or an empty push as a health beat. While the node is away (or does
not know the token) Results go to the disk buffer and pushes are retried after a backoff.
The assignment is fetched again every ``refetch_every`` seconds, or at once when a push's
answer names another version; changed monitors are replaced, removed ones stopped, new ones
added. ``stop()`` (SIGTERM, Ctrl-C) stops the checks, tries one last push within
``final_push`` seconds and keeps the rest on disk.

One log line per change of state (connected, node away since..., token refused, buffer
full); expected failures never log a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from watchkeeper import __version__
from watchkeeper.agent.buffer import Buffer
from watchkeeper.agent.client import (
    AgentClient,
    AgentError,
    Assignment,
    Away,
    Backoff,
    PushAnswer,
    Refused,
    Rejected,
    Unauthorized,
)
from watchkeeper.checks import Resources
from watchkeeper.cluster.wire import MAX_BODY, MAX_RESULTS, encode
from watchkeeper.config import Monitor, load_agent_monitors
from watchkeeper.engine.scheduler import Scheduler
from watchkeeper.errors import ConfigError
from watchkeeper.model import Result
from watchkeeper.units import format_duration, plural

log = logging.getLogger("watchkeeper.agent")

REFETCH_EVERY = 30.0
FINAL_PUSH = 2.0
PUSH_BYTES = MAX_BODY - 256 * 1024
"""Bytes of results in one push at most (the rest of 4 MiB is for the envelope)."""
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class Link(StrEnum):
    """How the agent stands with its node."""

    STARTING = "starting"
    CONNECTED = "connected"
    AWAY = "away"
    UNAUTHORIZED = "unauthorized"
    REFUSED = "refused"


@dataclass(slots=True)
class AgentSettings:
    server: str
    token: str
    name: str
    location: str | None = None
    """The location the agent expects its token to have (checked against the assignment)."""
    buffer: Path | None = None
    """The buffer's folder; None: ``./wk-agent-<location>``."""
    buffer_size: int = 64 * 1000 * 1000
    concurrency: int = 100
    per_host: int = 100
    ca: Path | None = None
    push_every: float | None = None
    """None: the assignment's."""
    refetch_every: float = REFETCH_EVERY
    final_push: float = FINAL_PUSH
    backoff_first: float = 1.0
    backoff_limit: float = 60.0
    connect_timeout: float = 5.0
    total_timeout: float = 15.0


def default_buffer(location: str) -> Path:
    """``./wk-agent-<location>`` (the location made safe for a file name)."""
    return Path(f"wk-agent-{_SAFE_NAME.sub('_', location) or 'default'}")


class Agent:
    """One agent run: ``await run()`` until ``stop()``; raises Refused when the node refuses
    this agent (the CLI's exit 2)."""

    def __init__(self, settings: AgentSettings, *, client: AgentClient | None = None) -> None:
        from watchkeeper.agent.client import trust

        self.settings = settings
        self.client = client or AgentClient(
            settings.server,
            settings.token,
            settings.name,
            location=settings.location,
            ssl_context=trust(settings.ca),
            connect_timeout=settings.connect_timeout,
            total_timeout=settings.total_timeout,
        )
        self.started_at = time.time()
        self.link = Link.STARTING
        self.buffer: Buffer | None = None
        self.assignment: Assignment | None = None
        self.scheduler: Scheduler | None = None
        self.pending: list[dict[str, Any]] = []
        """Results made since the last push (wire shape), oldest first."""
        self.pushes = 0
        self._was_connected = False
        self._entries: dict[str, str] = {}  # monitor name → its entry as canonical JSON
        self._stopping = asyncio.Event()
        self._backoff = Backoff(settings.backoff_first, settings.backoff_limit)
        self._retry_at = 0.0  # loop time before which no push is tried (the node is away)
        self._away_since = 0.0
        self._last_reason = ""
        self._fetched_at = -float("inf")
        self._refetch = False
        self._refused_seen: set[tuple[str, str]] = set()
        self._resources = Resources()

    # -- the public surface ------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the run to end (a signal handler may call it)."""
        self._stopping.set()

    @property
    def push_every(self) -> float:
        if self.settings.push_every is not None:
            return self.settings.push_every
        return self.assignment.push_every if self.assignment is not None else 5.0

    @property
    def monitors(self) -> list[str]:
        """The names of the monitors this agent checks now."""
        return sorted(self._entries)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            if not await self._first_assignment():
                return  # stopped before the node answered
            assert self.assignment is not None
            self.buffer = Buffer(
                self.settings.buffer or default_buffer(self.assignment.location),
                self.settings.buffer_size,
            )
            await self.buffer.open()
            if self.buffer.buffered:
                log.info(
                    "resuming the buffer in %s: %s waiting",
                    self.buffer.folder,
                    plural(self.buffer.buffered, "result"),
                )
            self.scheduler = Scheduler(
                [], self._on_result, resources=self._resources,
                concurrency=self.settings.concurrency,
                per_host=self.settings.per_host,
            )  # fmt: skip
            await self._apply(self.assignment, first=True)
            checking = asyncio.create_task(self.scheduler.run(), name="agent-checks")
            try:
                await self._loop(loop)
            except Refused:
                self.link = Link.REFUSED
                raise
            finally:
                await self._shutdown(checking)
        finally:
            await self.client.aclose()
            await self._resources.aclose()

    # -- the assignment ----------------------------------------------------------------------
    async def _first_assignment(self) -> bool:
        """Fetch until the node answers (or ``stop``); False if stopped first."""
        while not self._stopping.is_set():
            if await self._fetch():
                return True
            await self._sleep(self._retry_at - asyncio.get_running_loop().time())  # backoff
        return False

    async def _fetch(self) -> bool:
        """Fetch the assignment and apply it; False (state logged) if it could not be."""
        self._fetched_at = asyncio.get_running_loop().time()
        self._refetch = False
        try:
            assignment = await self.client.assignment()
        except (Away, Unauthorized) as exc:
            self._lost(exc)
            return False
        expected = self.settings.location
        if expected is not None and assignment.location != expected:
            raise Refused(
                f"the token is for location {assignment.location!r}, not {expected!r} (--location)"
            )
        if self.assignment is not None and self.scheduler is not None:
            await self._apply(assignment)
        self.assignment = assignment
        self._connected()
        return True

    async def _apply(self, assignment: Assignment, *, first: bool = False) -> None:
        """Run the assignment's monitors: new ones added, changed ones replaced, removed ones
        stopped. A broken assignment is logged and the monitors running go on. Reading it
        runs on a thread: tens of thousands of monitors take seconds to validate."""
        assert self.scheduler is not None
        try:
            monitors, entries = await asyncio.to_thread(_read_assignment, assignment)
        except ConfigError as exc:
            log.error("assignment %s not applied: %s", assignment.version[:12], exc)
            return
        added: list[str] = []
        changed: list[str] = []
        for monitor in monitors:
            before = self._entries.get(monitor.name)
            if before is None:
                added.append(monitor.name)
                self.scheduler.add(monitor)
            elif before != entries[monitor.name]:
                changed.append(monitor.name)
                self.scheduler.add(monitor)  # replaces it (after a run in flight)
            else:
                self.scheduler.renew(monitor)
        removed = sorted(set(self._entries) - set(entries))
        for name in removed:
            self.scheduler.remove(name)
        self._entries = entries
        if first:
            log.info(
                "checking %s from location %s (assignment %s)",
                plural(len(entries), "monitor"),
                assignment.location,
                assignment.version[:12],
            )
        elif added or changed or removed:
            log.info(
                "assignment %s: %s",
                assignment.version[:12],
                "; ".join(
                    f"{what} {', '.join(names[:5])}"
                    + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                    for what, names in (("added", added), ("changed", changed),
                                        ("removed", removed))
                    if names
                ),
            )  # fmt: skip

    async def _on_result(self, monitor: Monitor, result: Result) -> bool:
        self.pending.append(encode(result))
        if self.buffer is not None:
            self.buffer.counters.checks += 1
        return False  # no streak to confirm here: the node judges

    # -- the loop ----------------------------------------------------------------------------
    async def _loop(self, loop: asyncio.AbstractEventLoop) -> None:
        while not self._stopping.is_set():
            await self._sleep(self.push_every)
            if self._stopping.is_set():
                break
            await self._tick(loop)

    async def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        """One push round (and a refetch when one is due)."""
        assert self.buffer is not None
        now = loop.time()
        if now < self._retry_at:  # the node is away: keep what was made on disk
            await self._spill()
            return
        due = self._refetch or now - self._fetched_at >= self.settings.refetch_every
        if due and not await self._fetch():
            await self._spill()
            return
        try:
            await self._push_all()
        except (Away, Unauthorized) as exc:
            self._lost(exc)
            await self._spill()
            return
        except Rejected as exc:  # the health beat itself: nothing to drop, nothing to retry
            log.debug("health beat: %s", exc)
        if self._refetch and not self._stopping.is_set():
            await self._fetch()

    async def _push_all(self) -> None:
        """The buffer's segments, oldest first, then what was made since; a health beat if
        there was nothing. Raises Away/Unauthorized (what was not pushed stays kept)."""
        assert self.buffer is not None
        pushed = False
        while not self._stopping.is_set():
            batch = await self.buffer.oldest()
            if batch is None:
                break
            try:
                answer = await self._push(batch.results)
            except Rejected as exc:
                log.warning("%s: dropping %s", exc, plural(len(batch.results), "result"))
                await self.buffer.discard(batch)
                continue
            await self.buffer.accepted(batch, answer.accepted)
            pushed = True
        while self.pending and not self._stopping.is_set():
            results = self._take_pending()
            try:
                answer = await self._push(results)
            except Rejected as exc:
                log.warning("%s: dropping %s", exc, plural(len(results), "result"))
                self.buffer.counters.dropped += len(results)
                continue
            except AgentError:
                self.pending[:0] = results  # back in front, in order
                raise
            self.buffer.counters.pushed += answer.accepted
            pushed = True
        if not pushed and not self._stopping.is_set():
            await self._push([])  # the health beat
        await self.buffer.save()

    def _take_pending(self) -> list[dict[str, Any]]:
        """The oldest pending results that fit one push."""
        size = 0
        count = 0
        for item in self.pending[:MAX_RESULTS]:
            size += len(json.dumps(item, separators=(",", ":"))) + 1
            if count and size > PUSH_BYTES:
                break
            count += 1
        taken, self.pending = self.pending[:count], self.pending[count:]
        return taken

    async def _push(self, results: list[dict[str, Any]]) -> PushAnswer:
        answer = await self.client.push(results, self._agent_block())
        self.pushes += 1
        log.debug("pushed %d result(s), %d accepted", len(results), answer.accepted)
        self._connected()
        assert self.assignment is not None
        if answer.version is not None and answer.version != self.assignment.version:
            self._refetch = True
        for refused in answer.refused:
            if refused not in self._refused_seen:
                self._refused_seen.add(refused)
                log.warning("the node left out results of %s: %s", *refused)
        return answer

    def _agent_block(self) -> dict[str, Any]:
        assert self.buffer is not None
        counters = self.buffer.counters
        return {
            "name": self.settings.name,
            "version": __version__,
            "started_at": self.started_at,
            "checks": counters.checks,
            "pushed": counters.pushed,
            "buffered": self.buffer.buffered,
            "dropped": counters.dropped,
            "buffer_bytes": self.buffer.size,
            "lag_p99_s": self._lag(),
        }

    def _lag(self) -> float | None:
        """The scheduler's lag p99 (how late checks start) over the last whole minute, else
        so far, in seconds."""
        stats = self.scheduler.stats if self.scheduler is not None else None
        if stats is None or not stats.started:
            return None
        recent = stats.last_minute_lag(99)
        return round(recent if recent is not None else stats.lag_seconds(99), 4)

    async def _spill(self) -> None:
        """Move the results made since the last push to the disk buffer."""
        if self.pending and self.buffer is not None:
            results, self.pending = self.pending, []
            try:
                await self.buffer.append(results)
            except OSError as exc:  # a full disk: what could not be kept is lost, counted
                self.buffer.counters.dropped += len(results)
                log.error(
                    "buffer %s: cannot write (%s): %s dropped",
                    self.buffer.folder,
                    exc.strerror or exc,
                    plural(len(results), "result"),
                )

    # -- states ------------------------------------------------------------------------------
    def _connected(self) -> None:
        self._backoff.reset()
        self._retry_at = 0.0
        if self.link is Link.CONNECTED:
            return
        waiting = self.buffer.buffered if self.buffer is not None else 0
        if self.link in (Link.AWAY, Link.UNAUTHORIZED) and self._was_connected:
            gone = time.time() - self._away_since
            log.info(
                "connected to %s again after %s%s",
                self.client.server,
                format_duration(gone),
                f": pushing {plural(waiting, 'buffered result')}" if waiting else "",
            )
        else:
            log.info("connected to %s as %s", self.client.server, self.settings.name)
        self.link = Link.CONNECTED
        self._was_connected = True
        self._last_reason = ""

    def _lost(self, exc: AgentError) -> None:
        """The node is away (or refuses the token): log it once, back off."""
        wait = self._backoff.next()
        self._retry_at = asyncio.get_running_loop().time() + wait
        link = Link.UNAUTHORIZED if isinstance(exc, Unauthorized) else Link.AWAY
        reason = str(exc)
        if link is not self.link:
            if self.link is not Link.AWAY and self.link is not Link.UNAUTHORIZED:
                self._away_since = time.time()
            stamp = time.strftime("%H:%M:%S", time.localtime(self._away_since))
            if link is Link.UNAUTHORIZED:
                log.warning("token refused since %s: %s; retrying", stamp, reason)
            else:
                log.warning("node away since %s: %s; results kept on disk", stamp, reason)
        elif link is Link.UNAUTHORIZED and reason != self._last_reason:
            log.warning("token refused: %s", reason)
        self.link = link
        self._last_reason = reason

    # -- stopping ----------------------------------------------------------------------------
    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _shutdown(self, checking: asyncio.Task[None]) -> None:
        """Stop the checks, push once more within ``final_push``, keep the rest on disk."""
        assert self.scheduler is not None and self.buffer is not None
        self.scheduler.stop()
        await self.scheduler.drain(min(1.0, self.settings.final_push / 2))
        checking.cancel()
        await asyncio.gather(checking, return_exceptions=True)
        if self.pending and self.link is Link.CONNECTED:
            results = self._take_pending()
            try:
                async with asyncio.timeout(self.settings.final_push):
                    answer = await self.client.push(results, self._agent_block())
                self.buffer.counters.pushed += answer.accepted
            except Rejected as exc:
                log.warning("%s: dropping %s", exc, plural(len(results), "result"))
                self.buffer.counters.dropped += len(results)
            except (AgentError, TimeoutError) as exc:
                log.info(
                    "last push failed (%s): results kept on disk", str(exc) or "no answer in time"
                )
                self.pending[:0] = results
        await self._spill()
        await self.buffer.close()
        log.info(
            "stopped: %s made, %s pushed, %s on disk, %s dropped; lag p99 %s s",
            self.buffer.counters.checks,
            self.buffer.counters.pushed,
            self.buffer.buffered,
            self.buffer.counters.dropped,
            self._lag(),
        )


def _read_assignment(assignment: Assignment) -> tuple[list[Monitor], dict[str, str]]:
    """The assignment's monitors, and each one's entry as text (to see which changed)."""
    monitors = load_agent_monitors(assignment.monitors)
    entries = {  # every entry is a mapping with a name: load_agent_monitors saw to it
        str(entry["name"]): json.dumps(entry, sort_keys=True) for entry in assignment.monitors
    }
    return monitors, entries
