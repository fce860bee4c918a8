"""Reading series: a monitor's numeric observations by name, raw or rolled up.

A point is ``(at, count, min, max, mean, last)``; raw samples are points of one. Buckets past
the rollup watermark are computed from raw samples, so a series reaches up to now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import minutes, raw
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
    checks = raw.read(connection, [found[0]], since, metrics=True)
    newest: dict[str, Latest] = {}
    for ts, series in zip(checks.ts, checks.metrics or (), strict=True):
        for name, value in series.items():
            newest[name] = Latest(name, ts, value)
    return [newest[name] for name in sorted(newest)]


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
    if resolution == "raw":
        values = _values(connection, monitor_id, name, since, until)
        values = values[-limit:] if newest else values[:limit]
        return [SamplePoint(t, 1, v, v, v, v) for t, v in values]
    chosen = MINUTE if resolution == "1m" else HOUR
    rollup = chosen.table
    mark = watermark(connection, chosen)
    rolled_until = until if mark is None else min(until, float(mark))
    if rollup is None:
        first = minutes.bucket_after(since - chosen.width)
        rows: Sequence[Sequence[Any]] = minutes.series_rows(
            connection, monitor_id, name, first, rolled_until, limit
        )
    else:
        rows = connection.execute(
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
        ).all()
    out = [
        SamplePoint(float(b), int(c), float(lo), float(hi), float(mean), float(last))
        for b, c, lo, hi, mean, last in rows
    ]
    tail_since = since if mark is None else max(since, float(mark))
    if tail_since < until and len(out) < limit:
        tail = [
            (monitor_id, name, t, v)
            for t, v in _values(connection, monitor_id, name, tail_since, until)
        ]
        out.extend(
            SamplePoint(float(b), c, lo, hi, mean, last)
            for _, _, b, c, lo, hi, mean, last in buckets(tail, chosen.width)
        )
    return out[:limit]


def first_time(
    connection: sa.Connection, monitor: str, since: float, name: str | None = None
) -> float | None:
    """When the monitor's first result (or sample of ``name``) at or after ``since`` was."""
    found = find_monitor(connection, monitor)
    if found is None:
        return None
    ids = [found[0]]
    if name is None:
        first = raw.read(connection, ids, since, limit=1)
        return first.ts[0] if len(first) else None
    start, span = raw.earliest(connection, ids, since, metrics=True), 3600.0
    while start is not None:  # a window at a time, each twice as long, until one has it
        values = _values(connection, ids[0], name, start, start + span)
        if values:
            return values[0][0]
        start, span = raw.earliest(connection, ids, start + span, metrics=True), span * 2
    return None


def _values(
    connection: sa.Connection, monitor_id: int, name: str, since: float, until: float
) -> list[tuple[float, float]]:
    """``(time, value)`` of each sample of series ``name`` in ``[since, until)``."""
    checks = raw.read(connection, [monitor_id], since, until, metrics=name)
    return [
        (ts, series[name])
        for ts, series in zip(checks.ts, checks.metrics or (), strict=True)
        if name in series
    ]
