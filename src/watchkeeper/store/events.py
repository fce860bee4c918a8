"""Good and total checks per minute of one monitor: what an SLO counts, read back at start.

Raw results give exact counts (and, with a latency threshold, count a passing check slower
than it as bad). Before the oldest raw result kept (``retention.raw``), the 1-minute rollups
give passing and failing checks only.
"""

from __future__ import annotations

import sqlalchemy as sa

from watchkeeper.store import schema
from watchkeeper.store.queries import find_monitor

MinuteCount = tuple[float, int, int]
"""(the minute's start, good checks, checks)."""


def minute_counts(
    connection: sa.Connection,
    monitor: str,
    since: float,
    until: float,
    latency: float | None = None,
) -> list[MinuteCount]:
    found = find_monitor(connection, monitor)
    if found is None:
        return []
    monitor_id = found[0]
    table = schema.results
    if connection.dialect.name == "sqlite":
        minute = sa.cast(table.c.ts / 60, sa.Integer)
    else:
        minute = sa.cast(sa.func.floor(table.c.ts / 60), sa.BigInteger)
    good: sa.ColumnElement[bool] = table.c.ok
    if latency is not None:
        good = sa.and_(table.c.ok, table.c.total_ms <= latency * 1000.0)
    query = (
        sa.select(
            minute.label("minute"),
            sa.func.sum(sa.case((good, 1), else_=0)),
            sa.func.count(),
            sa.func.min(table.c.ts),
        )
        .where(table.c.monitor_id == monitor_id, table.c.ts >= since, table.c.ts < until)
        .group_by(minute)
        .order_by(minute)
    )
    rows = [tuple(row) for row in connection.execute(query)]
    out: list[MinuteCount] = [(int(m) * 60.0, int(g), int(n)) for m, g, n, _ in rows]
    oldest_raw = float(rows[0][3]) if rows else until
    rollup = schema.rollup_1m
    older = connection.execute(
        sa.select(rollup.c.bucket, rollup.c.checks, rollup.c.failures)
        .where(
            rollup.c.monitor_id == monitor_id,
            rollup.c.bucket >= since,
            rollup.c.bucket + 60 <= oldest_raw,
        )
        .order_by(rollup.c.bucket)
    )
    earlier = [(float(b), int(c) - int(f), int(c)) for b, c, f in older]
    return earlier + out
