"""Run monitors once, now, without the scheduler (``wk check``): the config's monitors and
those defined through the API, the heartbeats judged on what their stored pings say."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from watchkeeper import checks
from watchkeeper.checks import Resources
from watchkeeper.checks.heartbeat import Registry
from watchkeeper.config import Config, Monitor
from watchkeeper.engine.defined import api_monitors
from watchkeeper.engine.heartbeats import stored_beats
from watchkeeper.engine.runner import run_check
from watchkeeper.model import Result
from watchkeeper.store import Store

UNWATCHED = "passive: no pings stored for it (wk up takes them), not judged"


@dataclass(slots=True)
class Known:
    """Every monitor ``wk up`` on this config watches, as a command beside it sees them."""

    monitors: list[Monitor]
    broken: dict[str, str] = field(default_factory=dict)
    """Stored API definitions ``wk up`` leaves out: name → why."""
    heartbeats: Registry = field(default_factory=lambda: Registry(unwatched=UNWATCHED))
    """The heartbeat monitors' state as their stored pings describe it."""
    vitals: StoredVitals | None = None
    """The ``rum`` monitors' windows as the store holds them (None: no store)."""


@dataclass(slots=True)
class StoredVitals:
    """What the store holds of each ``rum`` monitor's window (read up front: ``wk check``
    closes the store before it probes)."""

    found: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, store: Store, monitors: Sequence[Monitor], now: float) -> StoredVitals:
        """Each ``rum`` monitor's Summary of the window ending ``now``. Blocking."""
        from watchkeeper.rum.analysis import summary_of

        vitals = cls()
        for monitor in monitors:
            if monitor.kind != "rum":
                continue
            settings: Any = monitor.settings
            device = None if settings.device == "all" else settings.device
            tallies = store.rum_tallies(
                now - settings.window,
                now,
                page=settings.page,
                device=device,
                metric=settings.metric,
            )
            vitals.found[monitor.name] = summary_of(settings.page, device, settings.metric, tallies)
        return vitals

    async def judge(self, monitor: str, settings: Any, now: float) -> Any | None:
        return self.found.get(monitor)


def known_monitors(config: Config, store: Store | None) -> Known:
    """The config's monitors, then those defined through the API that ``store`` holds, and
    the stored ping state of the heartbeats among them (``store`` None: the config's only,
    every heartbeat passive). Blocking; raises StoreError."""
    if store is None:
        return Known(list(config.monitors))
    defined = api_monitors(store, config)
    known = Known([*config.monitors, *defined.monitors], {b.name: b.reason for b in defined.broken})
    known.heartbeats.beats.update(stored_beats(store, known.monitors))
    known.vitals = StoredVitals.read(store, known.monitors, time.time())
    return known


async def check_once(
    monitors: Sequence[Monitor],
    *,
    concurrency: int = 100,
    per_host: int = 20,
    secrets: frozenset[str] = frozenset(),
    nameservers: tuple[str, ...] = (),
    settings: dict[str, Any] | None = None,
    heartbeats: Registry | None = None,
    vitals: StoredVitals | None = None,
) -> list[Result]:
    """Probe each monitor once, concurrently within limits; Results in the monitors' order.
    ``heartbeats``: what the heartbeat monitors' stored pings say (none: each is passive
    here, noted and not judged); ``vitals``: what the store holds for the ``rum`` monitors
    (none: each is passive here)."""
    for monitor in monitors:
        checks.prepare(monitor.check)  # the drivers, before the probes' timeouts start
    resources = Resources(nameservers=nameservers, settings=settings)
    resources.shared("heartbeat.registry", lambda: heartbeats or Registry(unwatched=UNWATCHED))
    resources.shared("rum.vitals", lambda: vitals)
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
