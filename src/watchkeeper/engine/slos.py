"""The counting side of SLO monitors: each SLO's per-minute good/total counts in memory,
rebuilt from the store at start and fed every result of the monitor it watches."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from watchkeeper.analysis.slo import SPANS, Minutes, assess, describe, span_name
from watchkeeper.checks import Resources
from watchkeeper.checks.slo import SloSettings, Tracked, Tracker
from watchkeeper.config import Monitor
from watchkeeper.model import Result
from watchkeeper.store import Store

log = logging.getLogger("watchkeeper.engine")


def seed(store: Store, tracked: Tracked, now: float) -> None:
    """Count the stored checks of the SLO's window (blocking: call it in a thread)."""
    settings = tracked.settings
    counts = store.minute_counts(settings.monitor, now - settings.window, now + 1, settings.latency)
    for minute, good, total in counts:
        tracked.minutes.add_counts(minute, good, total)


class Slos:
    def __init__(self, store: Store, resources: Resources) -> None:
        self.store = store
        self.tracker: Tracker = resources.shared("slo.tracker", Tracker)

    def load(self, monitors: Iterable[Monitor], now: float) -> None:
        """Track every SLO monitor, counting what the store holds. Blocking."""
        for monitor in monitors:
            if monitor.kind == "slo":
                self.add(monitor, now)

    def add(self, monitor: Monitor, now: float, *, history: bool = True) -> None:
        """Track one SLO monitor; with ``history`` (blocking) count what the store holds."""
        settings = monitor.settings
        assert isinstance(settings, SloSettings)
        self.tracker.forget(monitor.name)
        tracked = self.tracker.add(monitor.name, settings)
        if not history:
            return
        try:
            seed(self.store, tracked, now)
        except Exception:  # counting starts now; the checks lose nothing
            log.exception("reading the history of SLO %s failed", monitor.name)

    def counted(self, monitor: Monitor, now: float) -> Tracked:
        """An SLO monitor's counts as the store holds them, for ``install`` (a reload).
        Blocking; touches nothing being counted."""
        settings = monitor.settings
        assert isinstance(settings, SloSettings)
        tracked = Tracked(settings, Minutes(settings.window))
        try:
            seed(self.store, tracked, now)
        except Exception:  # counting starts now; the checks lose nothing
            log.exception("reading the history of SLO %s failed", monitor.name)
        return tracked

    def install(self, name: str, tracked: Tracked) -> None:
        """Count for SLO ``name`` from ``counted``'s counts on (on the event loop)."""
        self.tracker.forget(name)
        self.tracker.slos[name] = tracked
        self.tracker.by_target.setdefault(tracked.settings.monitor, []).append(tracked)

    def forget(self, name: str) -> None:
        self.tracker.forget(name)

    def record(self, result: Result) -> None:
        if result.monitor in self.tracker.by_target:
            self.tracker.record(result.monitor, result.started_at, result.ok, result.latency)


def slo_rows(store: Store, monitors: Iterable[Monitor], now: float) -> list[dict[str, Any]]:
    """Each SLO monitor's error budget and burn rates now, from the store (``wk slo``'s
    rows; ``wk evidence`` keeps them too)."""
    rows: list[dict[str, Any]] = []
    for monitor in monitors:
        settings = monitor.settings
        assert isinstance(settings, SloSettings)
        tracked = Tracked(settings, Minutes(settings.window))
        seed(store, tracked, now)
        found = assess(tracked.minutes, settings.objective, settings.window, now)
        rows.append(
            {
                "slo": monitor.name,
                "monitor": settings.monitor,
                "objective_pct": round(settings.objective * 100, 6),
                "window": span_name(int(settings.window)),
                "latency_ms": None
                if settings.latency is None
                else round(settings.latency * 1000, 3),
                "events": found.total,
                "sli_pct": None if found.sli is None else round(found.sli * 100, 4),
                "budget_remaining_pct": None
                if found.budget_remaining is None
                else round(found.budget_remaining * 100, 2),
                "burn": {span_name(s): round(found.burn[s], 3) for s in SPANS},
                "alert": found.severity,
                "reason": describe(found),
                "exhausted_in_s": found.exhausted_in(),
            }
        )
    return rows
