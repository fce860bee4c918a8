"""Online anomalies in ``wk up``: for each monitor with ``anomaly: on``, the drift detector
follows its latency check by check (``anomaly: [latency, pg.connections]`` names the series:
the latency and any of the check's own); a detection adds a warning to the Result, so the monitor
turns degraded through the usual state machine (with its confirmation) and alert pipeline.

One slow check is a spike, and a spike that is over by the next check is not worth a page:
the warning stays only while the latest check and the median of the (up to 3) checks since
the detection stay above the baseline the detection was measured against (by three robust
deviations and a fifth of it: faster than usual is good news), for at most ``hold`` checks — after
that the new level is the normal one and the detector has learnt it. The detector scores
nothing before its warm-up (450 checks: under 4 hours at 30 s), which the store's history
usually covers. The detectors start from
the latency the store holds (the newest ``seed`` results), so a restart does not start blind.
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
from watchkeeper.units import format_duration

log = logging.getLogger("watchkeeper.engine")

THRESHOLD = 0.9
"""A score at or above this is an anomaly (the detector's ``high``)."""
ONLINE = DriftSettings(quiet=12)
"""The benchmark's detector with a short quiet period: here a detection only opens an
anomaly, and whether it lasts is judged check by check against its baseline (below), so a
false start must not hide a real change for the 200 points NAB's scoring prefers."""
HISTORY = 288
"""Latest latencies kept per monitor for the baseline an anomaly is told against."""


@dataclass(slots=True)
class _Watch:
    detector: Detector
    history: deque[float]
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=3))
    baseline: tuple[float, float] | None = None
    """(median, spread) the current anomaly is measured against; None when there is none."""
    held: int = 0


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

    def _watch(self, name: str, series: str) -> _Watch:
        watch = self._watches.get((name, series))
        if watch is None:
            watch = _Watch(Detector(self._settings), deque(maxlen=HISTORY))
            self._watches[(name, series)] = watch
        return watch

    def seed(self, store: Store, monitors: Iterable[Monitor]) -> None:
        """Feed each watched series its newest stored values: the latency of the last
        results, a check's own series (``pg.connections``) from its stored samples."""
        now = time.time()
        for monitor in monitors:
            for series in monitor.anomaly:
                watch = self._watch(monitor.name, series)
                if series == LATENCY:
                    points = [
                        (result.started_at, value)
                        for result in store.last_results(monitor.name, self._seed)
                        if (value := _latency_ms(result)) is not None
                    ]
                else:
                    since = now - self._seed * max(monitor.interval, 1.0)
                    points = [
                        (point.at, point.last)
                        for point in store.samples(
                            monitor.name, series, since, now, "raw", self._seed
                        )
                    ]
                for at, value in points:
                    watch.detector.update(value, at)
                    watch.history.append(value)
                    watch.recent.append(value)

    def forget(self, name: str) -> None:
        for key in [key for key in self._watches if key[0] == name]:
            del self._watches[key]

    def judge(self, monitor: Monitor, result: Result) -> None:
        """Score each watched series of ``result``; add a warning for each anomaly while
        it lasts."""
        for series in monitor.anomaly:
            if series == LATENCY:
                value = _latency_ms(result)
            else:
                value = result.metrics.get(series) if result.ok else None
            if value is None:
                continue
            warning = self._judge(self._watch(monitor.name, series), series, value, result)
            if warning is not None:
                result.warnings.append(warning)

    def _judge(self, watch: _Watch, series: str, value: float, result: Result) -> str | None:
        score = watch.detector.update(value, result.started_at)
        if watch.baseline is None and score >= self._threshold and len(watch.history) >= 8:
            past = np.asarray(watch.history, dtype=np.float64)
            median = float(np.median(past))
            spread = 1.4826 * float(np.median(np.abs(past - median)))
            floor = 0.5 if series == LATENCY else 1e-9
            watch.baseline = (median, max(spread, 0.05 * abs(median), floor))
            watch.held = 0
            watch.recent.clear()  # the level since the detection, not before it
        watch.history.append(value)
        watch.recent.append(value)
        if watch.baseline is None:
            return None
        median, spread = watch.baseline
        now = float(np.median(np.asarray(watch.recent, dtype=np.float64)))
        watch.held += 1
        band = max(3.0 * spread, 0.2 * abs(median))
        if series == LATENCY:  # slower only: faster after a fix is good news
            away = now - median > band and value - median > band
        else:  # a series' good direction is not known: either way
            away = abs(now - median) > band and abs(value - median) > band
        if not away or watch.held > self._hold:  # a spike is over, or this is the new normal
            watch.baseline = None
            return None
        change = f" ({100.0 * (now - median) / abs(median):+.0f} %)" if median else ""
        if series == LATENCY:
            return f"anomaly: latency {_ms(now)}, usually {_ms(median)}{change}"
        return f"anomaly: {series} {_number(now)}, usually {_number(median)}{change}"


def _latency_ms(result: Result) -> float | None:
    total = result.phases.total
    if not result.ok or total is None:
        return None
    return total * 1000.0


def _ms(value: float) -> str:
    return format_duration(value / 1000.0)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
