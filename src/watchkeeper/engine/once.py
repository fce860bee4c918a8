"""Run monitors once, now, without the scheduler or the store (``wk check``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from watchkeeper import checks
from watchkeeper.checks import Resources
from watchkeeper.config import Monitor
from watchkeeper.engine.runner import run_check
from watchkeeper.model import Result


async def check_once(
    monitors: Sequence[Monitor],
    *,
    concurrency: int = 100,
    per_host: int = 20,
    secrets: frozenset[str] = frozenset(),
    nameservers: tuple[str, ...] = (),
) -> list[Result]:
    """Probe each monitor once, concurrently within limits; Results in the monitors' order."""
    for monitor in monitors:
        checks.prepare(monitor.check)  # the drivers, before the probes' timeouts start
    resources = Resources(nameservers=nameservers)
    overall = asyncio.Semaphore(concurrency)
    hosts: dict[str, asyncio.Semaphore] = {}

    async def one(monitor: Monitor) -> Result:
        host = hosts.setdefault(monitor.host_key, asyncio.Semaphore(per_host))
        async with overall, host:
            return await run_check(monitor, resources, secrets)

    try:
        return list(await asyncio.gather(*(one(m) for m in monitors)))
    finally:
        await resources.aclose()
