"""Good and total checks per minute of one monitor: what an SLO counts, read back at start.

Raw results give exact counts (and, with a latency threshold, count a passing check slower
than it as bad). Before the oldest raw result kept (``retention.raw``), the 1-minute rollups
give passing and failing checks only.
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from watchkeeper.store import raw, schema
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
    checks = raw.read(connection, [monitor_id], since, until)
    good = checks.ok.copy()
    if latency is not None:
        good &= checks.milliseconds()[:, 0] <= latency * 1000.0
    minutes = np.floor(checks.ts / 60).astype(np.int64)
    starts, group = np.unique(minutes, return_inverse=True)
    totals = np.bincount(group, minlength=starts.size)
    goods = np.bincount(group, weights=good, minlength=starts.size)
    out: list[MinuteCount] = [
        (int(m) * 60.0, int(g), int(n))
        for m, g, n in zip(starts.tolist(), goods.tolist(), totals.tolist(), strict=True)
    ]
    oldest_raw = float(checks.ts.min()) if len(checks) else until
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
