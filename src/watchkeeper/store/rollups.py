"""1-minute and 1-hour rollups of raw results, computed once a bucket has closed.

A bucket ``[b, b + width)`` is closed when ``b + width <= now - GRACE``: results that arrive up
to ``GRACE`` seconds after their bucket ended still count. A watermark per resolution in the
``meta`` table records where the closed, rolled-up buckets end; each run rolls up from there
in chunks, replacing (delete + insert) the chunk's rows and moving the watermark in the same
transaction, so running it twice, or after a crash, writes the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from watchkeeper.store import aggregate, schema
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
    table: sa.Table
    chunk: int
    """Seconds of raw results read per step (a multiple of ``width``)."""

    @property
    def watermark_key(self) -> str:
        return f"rollup_{self.name}_watermark"


MINUTE = Resolution("1m", 60, schema.rollup_1m, 15 * 60)
HOUR = Resolution("1h", 3600, schema.rollup_1h, 3600)
RESOLUTIONS = (MINUTE, HOUR)


def roll_up(engine: sa.Engine, now: float) -> int:
    """Roll up every closed bucket past each watermark; returns rollup rows written."""
    return sum(_roll_up(engine, resolution, now) for resolution in RESOLUTIONS)


def watermark(connection: sa.Connection, resolution: Resolution) -> int | None:
    """Where the rolled-up buckets of ``resolution`` end (epoch seconds), None before any."""
    value = get_meta(connection, resolution.watermark_key)
    return None if value is None else int(value)


def _roll_up(engine: sa.Engine, resolution: Resolution, now: float) -> int:
    width = resolution.width
    closed_until = math.floor((now - GRACE) / width) * width
    with engine.connect() as connection:
        start = watermark(connection, resolution)
        if start is None:
            first = _next_result_time(connection, monitor_ids(connection), since=None)
            if first is None:
                return 0
            start = math.floor(first / width) * width
    written = 0
    while start < closed_until:
        end = min(start + resolution.chunk, closed_until)
        with engine.connect() as connection:
            ids = monitor_ids(connection)
            raw = _raw(connection, ids, start, end)
            if raw.shape[0] == 0:  # a gap: jump to the bucket of the next result
                following = _next_result_time(connection, ids, since=end)
                if following is not None:
                    end = min(max(end, math.floor(following / width) * width), closed_until)
                else:
                    end = closed_until
        rows = aggregate.buckets(raw, width)
        with writing(engine).begin() as connection:
            if rows:
                _replace(connection, resolution.table, ids, start, end, rows)
            set_meta(connection, resolution.watermark_key, str(end))
        written += len(rows)
        start = end
    return written


def _next_result_time(
    connection: sa.Connection, ids: list[int], since: float | None
) -> float | None:
    """The time of the first result at or after ``since`` (of all, with None).

    Asked per monitor so that the (monitor_id, ts) index answers each in one probe.
    """
    table = schema.results
    times = []
    for id_ in ids:
        query = sa.select(table.c.ts).where(table.c.monitor_id == id_)
        if since is not None:
            query = query.where(table.c.ts >= since)
        time = connection.scalar(query.order_by(table.c.ts).limit(1))
        if time is not None:
            times.append(float(time))
    return min(times) if times else None


def _raw(
    connection: sa.Connection, ids: list[int], start: float, end: float
) -> aggregate.FloatArray:
    table = schema.results
    columns = [table.c[name] for name in aggregate.RAW_COLUMNS]
    rows: list[tuple[Any, ...]] = []
    for first in range(0, len(ids), _ID_CHUNK):
        query = sa.select(*columns).where(
            table.c.monitor_id.in_(ids[first : first + _ID_CHUNK]),
            table.c.ts >= start,
            table.c.ts < end,
        )
        rows.extend(tuple(row) for row in connection.execute(query))  # numpy is slow on Rows
    if not rows:
        return np.empty((0, len(columns)), dtype=np.float64)
    return np.array(rows, dtype=np.float64)


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
    if rows:
        names = [column.name for column in table.columns]
        connection.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in rows])
