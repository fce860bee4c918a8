"""1-minute and 1-hour rollups of raw results, computed once a bucket has closed.

A bucket ``[b, b + width)`` is closed when ``b + width <= now - GRACE``: results that arrive up
to ``GRACE`` seconds after their bucket ended still count. A watermark per resolution in the
``meta`` table records where the closed, rolled-up buckets end; each run rolls up the hours
from there in chunks, replacing (delete + insert) the chunk's rows and moving the watermark in
the same transaction, so running it twice, or after a crash, writes the same rows.

The minutes are only closed here (their watermark moves): what is kept of them, and when, is
:mod:`watchkeeper.store.minutes`' business.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from watchkeeper.store import aggregate, raw, schema
from watchkeeper.store.database import writing
from watchkeeper.store.ingest import get_meta, set_meta
from watchkeeper.store.queries import monitor_ids

GRACE = 30.0
"""Seconds a bucket stays open after its end for late results."""

_ID_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Resolution:
    name: str
    width: int
    table: sa.Table | None
    """Where a roll-up writes its rows (None: it only moves the watermark)."""
    chunk: int
    """Seconds of raw results read per step (a multiple of ``width``)."""
    of: str = "rollup"
    """What is rolled up (``rollup``: results, ``samples``): each has its own watermark."""

    @property
    def watermark_key(self) -> str:
        return f"{self.of}_{self.name}_watermark"


MINUTE = Resolution("1m", 60, None, 15 * 60)
HOUR = Resolution("1h", 3600, schema.rollup_1h, 3600)
RESOLUTIONS = (MINUTE, HOUR)


def roll_up(engine: sa.Engine, now: float, grace: float = GRACE) -> int:
    """Roll up every bucket closed for ``grace`` seconds past each watermark; returns rollup
    rows written. ``grace`` must cover the longest check plus the writer's delay, or a slow
    (usually failed) result lands after its bucket was sealed."""
    return sum(_roll_up(engine, resolution, now, grace) for resolution in RESOLUTIONS)


def watermark(connection: sa.Connection, resolution: Resolution) -> int | None:
    """Where the rolled-up buckets of ``resolution`` end (epoch seconds), None before any."""
    value = get_meta(connection, resolution.watermark_key)
    return None if value is None else int(value)


def close(
    engine: sa.Engine,
    resolution: Resolution,
    now: float,
    grace: float,
    first: Callable[[sa.Connection], float | None],
) -> None:
    """Move the watermark of ``resolution`` (whose roll-up writes nothing) to where its
    closed buckets end, once there is anything to roll up (``first`` finds when)."""
    width = resolution.width
    closed_until = math.floor((now - grace) / width) * width
    with engine.connect() as connection:
        start = watermark(connection, resolution)
        if start is None:
            found = first(connection)
            if found is None:
                return
            start = math.floor(found / width) * width
    if start < closed_until:
        with writing(engine).begin() as connection:
            set_meta(connection, resolution.watermark_key, str(closed_until))


def _roll_up(engine: sa.Engine, resolution: Resolution, now: float, grace: float) -> int:
    table = resolution.table
    if table is None:
        close(
            engine,
            resolution,
            now,
            grace,
            lambda connection: _next_result_time(connection, monitor_ids(connection), None),
        )
        return 0
    width = resolution.width
    closed_until = math.floor((now - grace) / width) * width
    with engine.connect() as connection:
        ids = monitor_ids(connection)
        start = watermark(connection, resolution)
        if start is None:
            first = _next_result_time(connection, ids, since=None)
            if first is None:
                return 0
            start = math.floor(first / width) * width
    written = 0
    while start < closed_until:
        end = min(start + resolution.chunk, closed_until)
        with engine.connect() as connection:
            ids = monitor_ids(connection)  # monitors registered since the last window too
            rows = _aggregate(connection, ids, start, end, width)
            if not rows:  # a gap: jump to the bucket of the next result
                following = _next_result_time(connection, ids, since=end)
                end = (
                    closed_until
                    if following is None
                    else min(max(end, math.floor(following / width) * width), closed_until)
                )
        with writing(engine).begin() as connection:
            _replace(connection, table, ids, start, end, rows)
            set_meta(connection, resolution.watermark_key, str(end))
        written += len(rows)
        start = end
    return written


def _aggregate(
    connection: sa.Connection, ids: list[int], start: float, end: float, width: int
) -> list[tuple[float | int | None, ...]]:
    """Rollup rows for ``[start, end)``, a few hundred monitors at a time: memory stays
    bounded at any fleet size, and the thread lets go of the interpreter between chunks so
    the event loop's checks are not held up behind a long rollup."""
    rows: list[tuple[float | int | None, ...]] = []
    for first in range(0, len(ids), _ID_CHUNK):
        raw = _raw(connection, ids[first : first + _ID_CHUNK], start, end)
        rows.extend(aggregate.buckets(raw, width))
        time.sleep(0)
    return rows


def _next_result_time(
    connection: sa.Connection, ids: list[int], since: float | None
) -> float | None:
    """The time of the first result at or after ``since`` (of all, with None), or a time
    before it with no result in between (see ``raw.earliest``)."""
    times = []
    for first in range(0, len(ids), _ID_CHUNK):
        found = raw.earliest(connection, ids[first : first + _ID_CHUNK], since)
        if found is not None:
            times.append(found)
    return min(times) if times else None


def _raw(
    connection: sa.Connection, ids: list[int], start: float, end: float
) -> aggregate.FloatArray:
    return raw.read(connection, ids, start, end).matrix()


def _replace(
    connection: sa.Connection,
    table: sa.Table,
    ids: list[int],
    start: int,
    end: int,
    rows: list[tuple[float | int | None, ...]],
) -> None:
    for first in range(0, len(ids), _ID_CHUNK):
        connection.execute(
            table.delete().where(
                table.c.monitor_id.in_(ids[first : first + _ID_CHUNK]),
                table.c.bucket >= start,
                table.c.bucket < end,
            )
        )
    names = [column.name for column in table.columns]
    for first in range(0, len(rows), 2000):
        chunk = rows[first : first + 2000]
        connection.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in chunk])
        time.sleep(0)
