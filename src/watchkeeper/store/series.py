"""A monitor's latency and failures over a time range, as points for a chart.

The resolution follows the range unless asked for: one point per result while that makes at
most ``MAX_POINTS`` points (always up to 6 hours), else one per minute (the 1-minute rollups)
while that fits, else one per hour. Buckets not rolled
up yet (past the rollup watermark) are computed from raw results the same way, so a chart
reaches up to now. Latencies are milliseconds; each phase is its bucket's median.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import aggregate, chunks, minutes, raw, schema
from watchkeeper.store.queries import find_monitor
from watchkeeper.store.rollups import HOUR, MINUTE, Resolution, watermark

RAW_UP_TO = 6 * 3600.0
MINUTES_UP_TO = 3 * 86400.0
PHASES = ("dns", "connect", "tls", "ttfb")


@dataclass(frozen=True, slots=True)
class Point:
    at: float
    checks: int
    failures: int
    p50: float | None
    p95: float | None
    max: float | None
    phases: dict[str, float | None]
    """Median of each phase (dns, connect, tls, ttfb; transfer where raw)."""


MAX_POINTS = 3000


def pick(since: float, until: float, interval: float | None = None) -> str:
    """The resolution for a chart of ``[since, until)`` of a monitor checked every
    ``interval`` seconds."""
    span = until - since
    if span <= RAW_UP_TO and (interval is None or span / max(interval, 0.05) <= 4 * MAX_POINTS):
        return "raw"
    if interval is not None and span / max(interval, 0.05) <= MAX_POINTS:
        return "raw"
    return "1m" if span <= MINUTES_UP_TO else "1h"


def series(
    connection: sa.Connection,
    monitor: str,
    since: float,
    until: float,
    resolution: str,
    limit: int,
) -> list[Point]:
    found = find_monitor(connection, monitor)
    if found is None:
        return []
    monitor_id = found[0]
    if resolution == "raw":
        return _raw_points(connection, monitor_id, since, until, limit)
    chosen = MINUTE if resolution == "1m" else HOUR
    return _rollup_points(connection, chosen, monitor_id, since, until, limit)


def _raw_points(
    connection: sa.Connection, monitor_id: int, since: float, until: float, limit: int
) -> list[Point]:
    checks = raw.read(connection, [monitor_id], since, until, limit=limit)
    milliseconds = [checks.milliseconds_of(index) for index in range(len(chunks.PHASES))]
    points = []
    for ts, ok, *row in zip(checks.ts, checks.ok, *milliseconds, strict=True):
        total, dns, connect, tls, ttfb, transfer = row
        points.append(
            Point(
                at=ts,
                checks=1,
                failures=0 if ok else 1,
                p50=total,
                p95=total,
                max=total,
                phases={
                    "dns": dns,
                    "connect": connect,
                    "tls": tls,
                    "ttfb": ttfb,
                    "transfer": transfer,
                },
            )
        )
    return points


def _rollup_points(
    connection: sa.Connection,
    resolution: Resolution,
    monitor_id: int,
    since: float,
    until: float,
    limit: int,
) -> list[Point]:
    width = resolution.width
    mark = watermark(connection, resolution)
    rolled_until = until if mark is None else min(until, float(mark))
    if resolution.table is None:
        first = minutes.bucket_after(since - width)  # the buckets that overlap the window
        found = minutes.check_rows(connection, [monitor_id], first, rolled_until, limit)
        rows: list[tuple[Any, ...]] = [_chosen(row[1:]) for row in found]
    else:
        table = resolution.table
        columns = [
            table.c.bucket,
            table.c.checks,
            table.c.failures,
            table.c.total_p50,
            table.c.total_p95,
            table.c.total_max,
            *(table.c[f"{phase}_p50"] for phase in PHASES),
        ]
        rows = [
            tuple(row)
            for row in connection.execute(
                sa.select(*columns)
                .where(
                    table.c.monitor_id == monitor_id,
                    table.c.bucket > since - width,
                    table.c.bucket < rolled_until,
                )
                .order_by(table.c.bucket)
                .limit(limit)
            )
        ]
    tail_since = since if mark is None else max(since, float(mark))
    if tail_since < until and len(rows) < limit:
        rows.extend(_tail(connection, monitor_id, tail_since, until, width))
    return [
        Point(
            at=float(row[0]),
            checks=int(row[1]),
            failures=int(row[2]),
            p50=row[3],
            p95=row[4],
            max=row[5],
            phases=dict(zip(PHASES, row[6:], strict=True)),
        )
        for row in rows[:limit]
    ]


_NAMES = list(schema.ROLLUP_VALUE_COLUMNS)
_CHOSEN = [
    _NAMES.index(name)
    for name in ("total_p50", "total_p95", "total_max", *(f"{phase}_p50" for phase in PHASES))
]


def _chosen(row: Sequence[float | int | None]) -> tuple[float | int | None, ...]:
    """``(bucket, checks, failures, total p50, p95, max, each phase's p50)`` of a rollup row
    without its monitor."""
    return (row[0], row[1], row[2], *(row[3 + index] for index in _CHOSEN))


def _tail(
    connection: sa.Connection, monitor_id: int, since: float, until: float, width: int
) -> list[tuple[float | int | None, ...]]:
    """Rollup-shaped rows for results not rolled up yet."""
    matrix = raw.read(connection, [monitor_id], since, until).matrix()
    if matrix.shape[0] == 0:
        return []
    return [_chosen(row[1:]) for row in aggregate.buckets(matrix, width)]
