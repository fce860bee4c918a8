"""Good and total checks per minute of one monitor: what an SLO counts, read back at start.

Raw results give exact counts (and, with a latency threshold, count a passing check slower
than it as bad). Before the oldest raw result kept (``retention.raw``), the 1-minute rollups
give passing and failing checks only.
"""

from __future__ import annotations

import math

import sqlalchemy as sa

from watchkeeper.store import raw
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
    totals = checks.milliseconds_of(0)
    tallies: dict[int, list[int]] = {}
    for ts, ok, total in zip(checks.ts, checks.ok, totals, strict=True):
        tally = tallies.setdefault(math.floor(ts / 60), [0, 0])
        tally[0] += ok and (latency is None or (total is not None and total <= latency * 1000.0))
        tally[1] += 1
    out: list[MinuteCount] = [(m * 60.0, good, n) for m, (good, n) in sorted(tallies.items())]
    oldest_raw = min(checks.ts) if len(checks) else until
    from watchkeeper.store import minutes  # numpy: not for reading states (wk status)

    older = minutes.check_rows(
        connection,
        [monitor_id],
        minutes.bucket_after(since, inclusive=True),
        minutes.bucket_after(oldest_raw - 60),  # the minutes that end by the oldest raw result
    )
    earlier = [(float(b), int(c) - int(f), int(c)) for _, b, c, f, *_ in older]  # type: ignore[arg-type]
    return earlier + out
