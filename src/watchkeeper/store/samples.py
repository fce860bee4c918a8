"""Reading series: a monitor's numeric observations by name, raw or rolled up.

A point is ``(at, count, min, max, mean, last)``; raw samples are points of one. Buckets past
the rollup watermark are computed from raw samples, so a series reaches up to now.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from watchkeeper.store import schema
from watchkeeper.store.queries import find_monitor
from watchkeeper.store.rollups import watermark
from watchkeeper.store.sample_rollups import HOUR, MINUTE, buckets


@dataclass(frozen=True, slots=True)
class SamplePoint:
    at: float
    count: int
    min: float
    max: float
    mean: float
    last: float


@dataclass(frozen=True, slots=True)
class Latest:
    name: str
    at: float
    value: float


def latest(connection: sa.Connection, monitor: str, since: float) -> list[Latest]:
    """Each series of ``monitor`` seen since ``since``, with its newest value, by name."""
    found = find_monitor(connection, monitor)
    if found is None:
        return []
    table = schema.samples
    newest = (
        sa.select(table.c.name, sa.func.max(table.c.ts).label("ts"))
        .where(table.c.monitor_id == found[0], table.c.ts >= since)
        .group_by(table.c.name)
        .subquery()
    )
    query = (
        sa.select(table.c.name, table.c.ts, table.c.value)
        .join(newest, sa.and_(table.c.name == newest.c.name, table.c.ts == newest.c.ts))
        .where(table.c.monitor_id == found[0])
        .order_by(table.c.name)
    )
    out: dict[str, Latest] = {}
    for name, ts, value in connection.execute(query):
        out[str(name)] = Latest(str(name), float(ts), float(value))
    return list(out.values())


def points(
    connection: sa.Connection,
    monitor: str,
    name: str,
    since: float,
    until: float,
    resolution: str,
    limit: int,
    newest: bool = False,
) -> list[SamplePoint]:
    """Oldest first; at most ``limit``, the oldest of the window, or with ``newest`` (raw
    samples only) the newest."""
    found = find_monitor(connection, monitor)
    if found is None:
        return []
    monitor_id = found[0]
    table = schema.samples
    if resolution == "raw":
        query = sa.select(table.c.ts, table.c.value).where(
            table.c.monitor_id == monitor_id,
            table.c.name == name,
            table.c.ts >= since,
            table.c.ts < until,
        )
        order = table.c.ts.desc() if newest else table.c.ts
        rows = list(connection.execute(query.order_by(order).limit(limit)))
        if newest:
            rows.reverse()
        return [SamplePoint(float(t), 1, float(v), float(v), float(v), float(v)) for t, v in rows]
    chosen = MINUTE if resolution == "1m" else HOUR
    rollup = chosen.table
    mark = watermark(connection, chosen)
    rolled_until = until if mark is None else min(until, float(mark))
    out = [
        SamplePoint(float(b), int(c), float(lo), float(hi), float(mean), float(last))
        for b, c, lo, hi, mean, last in connection.execute(
            sa.select(
                rollup.c.bucket,
                rollup.c.count,
                rollup.c.min,
                rollup.c.max,
                rollup.c.mean,
                rollup.c.last,
            )
            .where(
                rollup.c.monitor_id == monitor_id,
                rollup.c.name == name,
                rollup.c.bucket > since - chosen.width,
                rollup.c.bucket < rolled_until,
            )
            .order_by(rollup.c.bucket)
            .limit(limit)
        )
    ]
    tail_since = since if mark is None else max(since, float(mark))
    if tail_since < until and len(out) < limit:
        raw = [
            (monitor_id, name, float(t), float(v))
            for t, v in connection.execute(
                sa.select(table.c.ts, table.c.value)
                .where(
                    table.c.monitor_id == monitor_id,
                    table.c.name == name,
                    table.c.ts >= tail_since,
                    table.c.ts < until,
                )
                .order_by(table.c.ts)
            )
        ]
        out.extend(
            SamplePoint(float(b), c, lo, hi, mean, last)
            for _, _, b, c, lo, hi, mean, last in buckets(raw, chosen.width)
        )
    return out[:limit]


def first_time(
    connection: sa.Connection, monitor: str, since: float, name: str | None = None
) -> float | None:
    """When the monitor's first result (or sample of ``name``) at or after ``since`` was."""
    found = find_monitor(connection, monitor)
    if found is None:
        return None
    if name is None:
        table = schema.results
        query = sa.select(sa.func.min(table.c.ts)).where(
            table.c.monitor_id == found[0], table.c.ts >= since
        )
    else:
        table = schema.samples
        query = sa.select(sa.func.min(table.c.ts)).where(
            table.c.monitor_id == found[0], table.c.name == name, table.c.ts >= since
        )
    value = connection.scalar(query)
    return None if value is None else float(value)
