"""History for ``wk cost`` tests: the real host (or any) check run into a store, and weeks
of synthetic samples written through the store's own write path (a test cannot wait 14 days)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from watchkeeper.checks import Resources
from watchkeeper.config import Monitor
from watchkeeper.engine import run_check
from watchkeeper.model import Phases, Result
from watchkeeper.store import Store

DAY = 86400.0
EVERY = 1200.0
"""Synthetic samples 20 minutes apart: 1,008 results a fortnight."""

Values = Callable[[float, random.Random], dict[str, float]]
"""Given the share of the history elapsed (0 to 1) and a generator, one result's metrics."""


def daily(t: float) -> float:
    """0 at 03:00, 1 at 15:00: a day's load curve."""
    return 0.5 - 0.5 * math.cos(2 * math.pi * ((t - 3 * 3600) % DAY) / DAY)


def write_history(
    store: Store,
    monitor: str,
    kind: str,
    *,
    until: float,
    days: float,
    values: Values,
    seed: int = 7,
    every: float = EVERY,
) -> list[dict[str, float]]:
    """Results of ``monitor`` every ``every`` seconds over ``days`` up to ``until``; returns
    what each carried (for a test to compute what it expects on its own)."""
    generator = random.Random(seed)
    start = until - days * DAY
    written: list[dict[str, float]] = []
    batch: list[Result] = []
    at = start
    while at < until:
        metrics = values((at - start) / (until - start), generator) | {"_t": at}
        shown = {k: v for k, v in metrics.items() if k != "_t"}
        written.append(metrics)
        batch.append(
            Result(
                monitor=monitor,
                kind=kind,
                started_at=at,
                ok=True,
                phases=Phases(total=0.002),
                metrics=shown,
            )
        )
        if len(batch) >= 1000:
            store.write(batch)
            batch = []
        at += every
    store.write(batch)
    return written


async def run_real_checks(store: Store, monitor: Monitor, times: int) -> list[Result]:
    """Run the monitor's real check ``times`` times now and store each result."""
    resources = Resources()
    found = []
    try:
        for _ in range(times):
            result = await run_check(monitor, resources)
            assert result.error is None, result.error
            store.write([result])
            found.append(result)
    finally:
        await resources.aclose()
    return found
