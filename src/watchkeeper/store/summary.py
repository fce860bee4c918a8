"""How a monitor did over a window, read at the coarsest resolution that fits it.

Windows up to 2 days read raw results; up to 30 days, 1-minute rollups; beyond, 1-hour
rollups. A rollup bucket counts when it overlaps the window. Results newer than the rollup
watermark (not rolled up yet) are read raw and merged in as one more bucket, so a summary
always reaches up to ``until``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from watchkeeper.store import aggregate, minutes, raw
from watchkeeper.store.queries import find_monitor
from watchkeeper.store.rollups import HOUR, MINUTE, Resolution, watermark
from watchkeeper.store.schema import ROLLUP_VALUE_COLUMNS

RAW_SPAN = 2 * 86400.0
MINUTE_SPAN = 30 * 86400.0


@dataclass(frozen=True, slots=True)
class HistorySummary:
    """Checks, failures, uptime and total latency (seconds) of one monitor over a window.

    ``resolution`` says what was read: ``raw`` results (exact percentiles), or ``1m`` / ``1h``
    rollups (percentiles approximated count-weighted from the buckets'; max is exact).
    """

    monitor: str
    since: float
    until: float
    resolution: str
    checks: int
    failures: int
    uptime: float | None
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None
    latency_max: float | None


def resolution_for(since: float, until: float) -> Resolution | None:
    """The rollup to read for a window, None for raw results."""
    span = until - since
    if span <= RAW_SPAN:
        return None
    return MINUTE if span <= MINUTE_SPAN else HOUR


def summarize(
    connection: sa.Connection, monitor: str, since: float, until: float
) -> HistorySummary:
    resolution = resolution_for(since, until)
    found = find_monitor(connection, monitor)
    if found is None:
        statistics = aggregate.Statistics(0, 0, None, None, None, None)
    elif resolution is None:
        statistics = _raw_statistics(connection, found[0], since, until)
    else:
        statistics = _rollup_statistics(connection, resolution, found[0], since, until)
    checks = statistics.checks
    return HistorySummary(
        monitor=monitor,
        since=since,
        until=until,
        resolution="raw" if resolution is None else resolution.name,
        checks=checks,
        failures=statistics.failures,
        uptime=(checks - statistics.failures) / checks if checks else None,
        latency_p50=_seconds(statistics.p50),
        latency_p95=_seconds(statistics.p95),
        latency_p99=_seconds(statistics.p99),
        latency_max=_seconds(statistics.max),
    )


def _raw_statistics(
    connection: sa.Connection, monitor_id: int, since: float, until: float
) -> aggregate.Statistics:
    checks = raw.read(connection, [monitor_id], since, until)
    if not len(checks):
        return aggregate.Statistics(0, 0, None, None, None, None)
    ok = np.array(checks.ok, dtype=np.float64)
    return aggregate.describe(checks.milliseconds()[:, 0], ok=ok)


def _rollup_statistics(
    connection: sa.Connection,
    resolution: Resolution,
    monitor_id: int,
    since: float,
    until: float,
) -> aggregate.Statistics:
    mark = watermark(connection, resolution)
    rolled_until = until if mark is None else min(until, float(mark))
    table = resolution.table
    if table is None:
        first = minutes.bucket_after(since - resolution.width)
        found = minutes.check_rows(connection, [monitor_id], first, rolled_until)
        rows = [(row[2], row[3], *(row[4 + index] for index in _TOTAL)) for row in found]
    else:
        query = sa.select(
            table.c.checks,
            table.c.failures,
            table.c.total_p50,
            table.c.total_p95,
            table.c.total_p99,
            table.c.total_max,
        ).where(
            table.c.monitor_id == monitor_id,
            table.c.bucket > since - resolution.width,
            table.c.bucket < rolled_until,
        )
        rows = [tuple(row) for row in connection.execute(query)]
    parts = [
        aggregate.Statistics(int(checks), int(failures), p50, p95, p99, maximum)  # type: ignore[arg-type]
        for checks, failures, p50, p95, p99, maximum in rows
    ]
    tail_since = since if mark is None else max(since, float(mark))
    if tail_since < until:
        tail = _raw_statistics(connection, monitor_id, tail_since, until)
        if tail.checks:
            parts.append(tail)
    return aggregate.combine(parts)


_TOTAL = [
    list(ROLLUP_VALUE_COLUMNS).index(f"total_{statistic}")
    for statistic in ("p50", "p95", "p99", "max")
]


def _seconds(milliseconds: float | None) -> float | None:
    return None if milliseconds is None else milliseconds / 1000.0
