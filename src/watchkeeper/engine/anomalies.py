"""Online anomalies in ``wk up``: for each monitor with ``anomaly: on``, the drift detector
follows its latency check by check (``anomaly: [latency, pg.connections]`` names the series:
the latency and any of the check's own); a detection adds a warning to the Result, so the
monitor turns degraded through the usual state machine (with its confirmation) and alert
pipeline.

A detection opens an anomaly against the baseline before it (median and robust spread of the
last ``HISTORY`` values). It is told (the warning) once the median of the last ``RECENT``
checks stands beyond that baseline by three robust deviations and a fifth of it — so one slow
check, a spike, is never told — and stays told until that median has been back within it for
``CALM`` checks in a row (an intermittent regression does not flap). Until ``hold`` checks
after the detection a return beyond the same baseline is told again at once (the detector,
having learnt the new values, would not detect them again); after that the new level is the
normal one. Latency
counts only when slower (faster after a fix is good news); a check's own series either way.

The detectors start from the store (the newest results' latency, a series' newest samples),
fed through the same steps as live checks, so an anomaly open before a restart is open after
it. The detector scores nothing before its warm-up: its first day of checks (at least 200,
at most 400), and 50 more (450 checks: under 4 hours at 30 s; 250 checks hourly).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from watchkeeper.analysis.drift import Detector, DriftSettings
from watchkeeper.config import Monitor
from watchkeeper.model import Result
from watchkeeper.store import Store
from watchkeeper.units import format_ms, format_value

log = logging.getLogger("watchkeeper.engine")

THRESHOLD = 0.9
"""A score at or above this is an anomaly (the detector's ``high``)."""
ONLINE = DriftSettings(quiet=12)
"""The benchmark's detector with a short quiet period: here a detection only opens an
anomaly, and whether it lasts is judged check by check against its baseline (below), so a
false start must not hide a real change for the 200 points NAB's scoring prefers."""
HISTORY = 288
"""Latest latencies kept per monitor for the baseline an anomaly is told against."""


RECENT = 5
"""Checks whose median is the level now."""
CALM = 8
"""Checks in a row back within the baseline that close an anomaly."""
MISSING = 10
"""Passing checks in a row without a watched series before the log says so (once)."""


@dataclass(slots=True)
class _Watch:
    detector: Detector
    history: deque[float]
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    baseline: tuple[float, float] | None = None
    """(median, spread) the open anomaly is measured against; None when none is open."""
    held: int = 0
    calm: int = 0
    told: float | None = None
    """The level being told (None while the anomaly is not, or no longer, told)."""
    confirmed: bool = False
    """Was the open anomaly ever more than a spike?"""


LATENCY = "latency"
"""The series ``anomaly: on`` watches: each check's total time, in milliseconds."""


class Anomalies:
    def __init__(
        self,
        settings: DriftSettings | None = None,
        *,
        threshold: float = THRESHOLD,
        hold: int = 60,
        seed: int = 2000,
    ) -> None:
        self._settings = settings or ONLINE
        self._threshold = threshold
        self._hold = hold
        self._seed = seed
        self._watches: dict[tuple[str, str], _Watch] = {}
        self._missing: dict[tuple[str, str], int] = {}
        """Results in a row without a watched series (told once in the log at ``MISSING``)."""

    def _watch(self, name: str, series: str) -> _Watch:
        watch = self._watches.get((name, series))
        if watch is None:
            watch = _Watch(Detector(self._settings), deque(maxlen=HISTORY))
            self._watches[(name, series)] = watch
        return watch

    def seed(self, store: Store, monitors: Iterable[Monitor]) -> None:
        """Feed each watched series its newest stored values, as live checks would be."""
        for monitor in monitors:
            self.feed(monitor, self.history(store, monitor))

    def history(self, store: Store, monitor: Monitor) -> dict[str, list[tuple[float, float]]]:
        """The newest stored values of each series ``monitor`` watches, oldest first: the
        latency of its last results, a check's own series from its newest samples. Only
        reads the store (call it in a thread), for :meth:`feed`."""
        now = time.time()
        out: dict[str, list[tuple[float, float]]] = {}
        for series in monitor.anomaly:
            if series == LATENCY:
                out[series] = [
                    (result.started_at, value)
                    for result in store.last_results(monitor.name, self._seed)
                    if (value := _latency_ms(result)) is not None
                ]
            else:
                since = now - self._seed * max(monitor.interval, 1.0) * 2
                out[series] = [
                    (point.at, point.last)
                    for point in store.samples(
                        monitor.name, series, since, now, "raw", self._seed, newest=True
                    )
                ]
        return out

    def feed(self, monitor: Monitor, history: dict[str, list[tuple[float, float]]]) -> None:
        """Start ``monitor``'s detectors afresh from ``history`` (see :meth:`history`)."""
        self.forget(monitor.name)
        for series, points in history.items():
            if series not in monitor.anomaly:
                continue
            watch = self._watch(monitor.name, series)
            for at, value in points:
                self._step(watch, series, value, at)

    def learnt(self, name: str, series: str) -> int:
        """Values a series' detector has seen (0 when it is not watched)."""
        watch = self._watches.get((name, series))
        return 0 if watch is None else watch.detector.seen

    def forget(self, name: str, keep: Iterable[str] = ()) -> None:
        """Drop a monitor's detectors (but those of the series in ``keep``)."""
        kept = set(keep)
        for key in [key for key in self._watches if key[0] == name and key[1] not in kept]:
            del self._watches[key]
        for key in [key for key in self._missing if key[0] == name and key[1] not in kept]:
            del self._missing[key]

    def judge(self, monitor: Monitor, result: Result) -> None:
        """Score each watched series of ``result``; add a warning for each anomaly while
        it is told."""
        for series in monitor.anomaly:
            value = _latency_ms(result) if series == LATENCY else result.metrics.get(series)
            if value is None:
                if series != LATENCY and result.ok:
                    self._absent(monitor.name, series, result)
                continue
            self._missing.pop((monitor.name, series), None)
            warning = self._step(
                self._watch(monitor.name, series), series, value, result.started_at
            )
            if warning is not None:
                result.warnings.append(warning)

    def _absent(self, name: str, series: str, result: Result) -> None:
        count = self._missing.get((name, series), 0) + 1
        self._missing[(name, series)] = count
        if count == MISSING:
            seen = ", ".join(sorted(result.metrics)[:12]) or "no numeric series"
            log.warning(
                "monitor %s: anomaly series '%s' is not among what its check observes (%s)",
                name,
                series,
                seen,
            )

    def _step(self, watch: _Watch, series: str, value: float, at: float) -> str | None:
        """One value through the detector and the open anomaly; the warning to tell."""
        score = watch.detector.update(value, at)
        if watch.baseline is None and score >= self._threshold and len(watch.history) >= 8:
            past = np.asarray(watch.history, dtype=np.float64)
            median = float(np.median(past))
            spread = 1.4826 * float(np.median(np.abs(past - median)))
            floor = 0.5 if series == LATENCY else 1e-9
            watch.baseline = (median, max(spread, 0.05 * abs(median), floor))
            watch.held = watch.calm = 0
            watch.told = None
            watch.confirmed = False
        watch.history.append(value)
        watch.recent.append(value)
        if watch.baseline is None:
            return None
        median, spread = watch.baseline
        now = float(np.median(np.asarray(watch.recent, dtype=np.float64)))
        watch.held += 1
        band = max(3.0 * spread, 0.2 * abs(median))
        away = now - median > band if series == LATENCY else abs(now - median) > band
        if away:
            watch.told, watch.calm, watch.confirmed = now, 0, True
        elif watch.told is not None:
            watch.calm += 1
            if watch.calm >= CALM:  # back to normal: quiet, but a return is told at once
                watch.told, watch.calm = None, 0
        spike = not watch.confirmed and watch.held >= RECENT  # never more than a spike
        if spike or watch.held > self._hold:  # over, or the new normal
            watch.baseline = None
            watch.told = None
            return None
        if watch.told is None:  # not (yet) more than a spike
            return None
        level = watch.told
        change = f" ({100.0 * (level - median) / abs(median):+.0f} %)" if median else ""
        if series == LATENCY:
            return f"anomaly: latency {format_ms(level)}, usually {format_ms(median)}{change}"
        return f"anomaly: {series} {format_value(level)}, usually {format_value(median)}{change}"


def _latency_ms(result: Result) -> float | None:
    total = result.phases.total
    if not result.ok or total is None:
        return None
    return total * 1000.0
