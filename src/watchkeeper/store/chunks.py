"""The packed form of older raw results: one blob holds many checks of one monitor.

A chunk is column by column, each column in the cheapest exact form its values allow, so a
check costs what its values vary by, not a row of its own:

- start times as the second difference of their IEEE-754 bit patterns (checks every 30 s
  with millisecond jitter: two or three bytes; any float comes back bit for bit);
- the ok / status / error / failures / warnings flags, which phases are present, status
  codes: small integers, one byte a check or one value for the whole chunk when constant;
- each phase as whole nanoseconds (``total`` as what it adds to the other phases);
- error, failure and warning texts as one JSON list (rare);
- each series (``body.size``, ``pg.connections``) as its own float column, present where the
  check had it: a value that does not change costs nothing after the first, one that climbs
  steadily (``cert.expires_in``) a few bytes.

Integers are zigzag-mapped, then kept as the fewest low-order byte planes that hold them (all
lowest bytes, then all second bytes...). The body is then deflated when that makes it
smaller. Plain Python on purpose: a chunk holds a few dozen checks, too few for numpy's
per-call cost to pay. Pure functions, no I/O: :mod:`watchkeeper.store.compaction` writes
chunks, :mod:`watchkeeper.store.raw` reads them.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from watchkeeper.store import packing

PHASES = ("total", "dns", "connect", "tls", "ttfb", "transfer")
"""Phase order in a :class:`Check` and in a chunk (``total`` first, as in ``results``)."""

MAX_SPAN = 3600.0
"""Seconds from a chunk's first check to its last, at most: a reader finds the chunks that
reach into a window through ``(monitor_id, first_ts)`` with it. Never lower it."""

_PLAIN, _DEFLATED = 1, 2  # the first byte of a chunk: its format
_OK, _STATUS, _ERROR, _FAILURES, _WARNINGS = 1, 2, 4, 8, 16
_TEXTS = _ERROR | _FAILURES | _WARNINGS

Texts = tuple[str | None, list[str], list[str]]
_NO_TEXTS: Texts = (None, [], [])


class Check(NamedTuple):
    """One check as the store keeps it: phases in whole nanoseconds (None: not applicable)."""

    ts: float
    ok: bool
    status: int | None
    error: str | None
    failures: Sequence[str]
    warnings: Sequence[str]
    phases: tuple[int | None, ...]
    metrics: dict[str, float]


@dataclass(slots=True)
class Columns:
    """Checks column by column: what a reader turns into Results, rollups or series."""

    ts: list[float]
    ok: list[bool]
    status: list[int | None]
    phases: list[list[int | None]]
    """One column per phase, in :data:`PHASES` order, in nanoseconds."""
    texts: list[Texts] | None
    """Per check ``(error, failures, warnings)``; None when not asked for."""
    metrics: list[dict[str, float]] | None
    """Per check its series; None when not asked for."""


def encode(checks: Sequence[Check]) -> bytes:
    """One chunk of ``checks`` (in the order they are to be read back)."""
    count = len(checks)
    out = bytearray()
    packing.varint(out, count)
    packing.floats(out, [c.ts for c in checks])
    flags = [
        (_OK if c.ok else 0)
        | (0 if c.status is None else _STATUS)
        | (0 if c.error is None else _ERROR)
        | (_FAILURES if c.failures else 0)
        | (_WARNINGS if c.warnings else 0)
        for c in checks
    ]
    packing.integers(out, flags)
    packing.integers(
        out, [sum(1 << i for i, v in enumerate(c.phases) if v is not None) for c in checks]
    )
    packing.integers(out, [packing.zigzag(c.status) for c in checks if c.status is not None])
    for index in range(1, len(PHASES)):
        packing.integers(
            out, [packing.zigzag(v) for c in checks if (v := c.phases[index]) is not None]
        )
    packing.integers(
        out,
        [
            packing.zigzag(total - sum(v for v in c.phases[1:] if v is not None))
            for c in checks
            if (total := c.phases[0]) is not None
        ],
    )
    texts = [
        [c.error, list(c.failures), list(c.warnings)]
        for c in checks
        if c.error is not None or c.failures or c.warnings
    ]
    packing.put_bytes(out, json.dumps(texts, ensure_ascii=False).encode() if texts else b"")
    names = sorted({name for c in checks for name in c.metrics})
    packing.varint(out, len(names))
    for name in names:
        packing.put_bytes(out, name.encode("utf-8", "surrogatepass"))
        column = bytearray()
        packing.integers(column, [1 if name in c.metrics else 0 for c in checks])
        packing.floats(column, [c.metrics[name] for c in checks if name in c.metrics])
        packing.put_bytes(out, bytes(column))
    body = bytes(out)
    deflated = zlib.compress(body, 9, -15) if count > 1 else body
    if len(deflated) < len(body):
        return bytes([_DEFLATED]) + deflated
    return bytes([_PLAIN]) + body


def decode(blob: bytes, *, texts: bool = False, metrics: bool | str = False) -> Columns:
    """The columns of a chunk; the texts and series only when asked for (``metrics`` may
    name the one series wanted)."""
    kind = blob[0]
    if kind == _DEFLATED:
        body = zlib.decompress(blob[1:], -15)
    elif kind == _PLAIN:
        body = blob[1:]
    else:
        raise ValueError(f"unknown chunk format {kind}")
    reader = packing.Reader(body)
    count = reader.varint()
    ts = reader.floats(count)
    flags = reader.integers(count)
    mask = reader.integers(count)
    status = _spread(flags, _STATUS, reader)
    phases: list[list[int | None]] = [[None] * count]
    phases += [_spread(mask, 1 << i, reader) for i in range(1, len(PHASES))]
    others = [0] * count  # what the other phases add up to, column by column
    for column in phases[1:]:
        if None not in column:
            others = [a + b for a, b in zip(others, column, strict=True)]  # type: ignore[operator]
        elif column.count(None) < count:
            others = [a if b is None else a + b for a, b in zip(others, column, strict=True)]
    phases[0] = [
        None if residual is None else residual + other
        for residual, other in zip(_spread(mask, 1, reader), others, strict=True)
    ]
    raw_texts = reader.bytes()
    return Columns(
        ts=ts,
        ok=[bool(flag & _OK) for flag in flags],
        status=status,
        phases=phases,
        texts=_texts(flags, raw_texts) if texts else None,
        metrics=None if metrics is False else _metrics(reader, count, metrics),
    )


def unpack(blob: bytes) -> list[Check]:
    """Every check of a chunk, whole (to pack again)."""
    columns = decode(blob, texts=True, metrics=True)
    assert columns.texts is not None and columns.metrics is not None
    return [
        Check(ts, ok, status, error, failures, warnings, tuple(phases), series)
        for ts, ok, status, (error, failures, warnings), series, *phases in zip(
            columns.ts,
            columns.ok,
            columns.status,
            columns.texts,
            columns.metrics,
            *columns.phases,
            strict=True,
        )
    ]


def _spread(flags: list[int], bit: int, reader: packing.Reader) -> list[int | None]:
    """The integer column of the checks whose flag has ``bit``, None for the others."""
    first = flags[0] if flags else 0
    if flags.count(first) == len(flags):  # the usual case: every check alike
        present = len(flags) if first & bit else 0
    else:
        present = sum(1 for flag in flags if flag & bit)
    values: list[int | None] = [(v >> 1) ^ -(v & 1) for v in reader.integers(present)]
    if present == len(flags):
        return values
    found = iter(values)
    return [next(found) if flag & bit else None for flag in flags]


def _texts(flags: list[int], raw: bytes) -> list[Texts]:
    listed = iter(json.loads(raw) if raw else [])
    out: list[Texts] = []
    for flag in flags:
        if flag & _TEXTS:
            error, failures, warnings = next(listed)
            out.append((error, failures, warnings))
        else:
            out.append(_NO_TEXTS)
    return out


def _metrics(reader: packing.Reader, count: int, wanted: bool | str) -> list[dict[str, float]]:
    out: list[dict[str, float]] = [{} for _ in range(count)]
    for _ in range(reader.varint()):
        name = reader.bytes().decode("utf-8", "surrogatepass")
        column = reader.bytes()
        if wanted is not True and name != wanted:
            continue
        inner = packing.Reader(column)
        present = inner.integers(count)
        values = iter(inner.floats(sum(present)))
        for position, there in enumerate(present):
            if there:
                out[position][name] = next(values)
    return out
