"""A realistic workload of results and what the Store answers about it: the store tests'
yardstick for "packing (or upgrading) changes no answer"."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from watchkeeper.model import Phases, Result
from watchkeeper.store import Store

HOUR = 1_767_225_600.0  # a multiple of 3600


def _ns(seconds: float) -> float:
    return round(seconds * 1e9) / 1e9


def workload(
    monitors: tuple[str, ...], checks: int, seed: int = 5, *, twin: bool = True
) -> list[Result]:
    """Checks every 30 s: failures, errors, warnings, missing phases, series that stay,
    change and come and go, and two results of one monitor at one time."""
    rng = random.Random(seed)
    out = []
    for number, monitor in enumerate(monitors):
        size = 1000.0 + number
        for index in range(checks):
            at = round((HOUR + number + index * 30 + rng.uniform(0, 0.004)) * 1e9) / 1e9
            roll = rng.random()
            error = "connection refused" if roll < 0.05 else None
            failures = ["status == 200"] if 0.05 <= roll < 0.12 else []
            warnings = ["latency < 200ms"] if 0.12 <= roll < 0.2 else []
            if rng.random() < 0.1:
                size += rng.choice((-3.0, 5.0))
            metrics = {} if error else {"body.size": size, "ratio": rng.random()}
            if index % 7 == 0:
                metrics["sometimes"] = float(index)
            phases = Phases(
                dns=None if index % 5 == 0 else _ns(rng.uniform(0.0003, 0.003)),
                connect=_ns(rng.uniform(0.002, 0.05)),
                tls=None if error else _ns(rng.uniform(0.01, 0.08)),
                ttfb=None if error else _ns(rng.lognormvariate(-3, 0.6)),
                transfer=None if error else _ns(rng.uniform(0.0001, 0.002)),
                total=_ns(rng.uniform(0.05, 0.6)),
            )
            out.append(
                Result(
                    monitor,
                    "http",
                    at,
                    not (error or failures),
                    phases,
                    failures=failures,
                    error=error,
                    status=None if error else (503 if failures else 200),
                    warnings=warnings,
                    metrics=metrics,
                )
            )
    if twin:
        out.append(dataclasses.replace(out[10], status=204, metrics={"body.size": 1.5}))
    return out


def stored(results: list[Result]) -> list[Result]:
    """Results as the store reads them back: their series are read as series only."""
    return [dataclasses.replace(result, metrics={}) for result in results]


def answers(store: Store, monitors: tuple[str, ...], until: float) -> dict[str, Any]:
    """What every public read of raw results says about ``monitors``."""
    found: dict[str, Any] = {"latest": store.latest_results()}
    for name in monitors:
        found[name] = {
            "results": store.results(name, 0, limit=10**6),
            "window": store.results(name, HOUR + 600, HOUR + 1800),
            "failed newest": store.results(
                name, HOUR + 300, until, 4, failed_only=True, newest_first=True
            ),
            "oldest": store.results(name, HOUR + 901, until, 3),
            "last": store.last_results(name, 6),
            "phases": store.phase_rows(name, HOUR, until),
            "newest phases": store.phase_rows(name, HOUR, until, limit=9),
            "raw": store.series(name, HOUR, until, "raw"),
            "1m": store.series(name, HOUR - 3600, until, "1m"),
            "1h": store.series(name, HOUR - 3600, until, "1h"),
            "summary": store.summary(name, HOUR, until),
            "samples": store.samples(name, "body.size", HOUR, until, "raw"),
            "newest samples": store.samples(name, "ratio", HOUR, until, "raw", 5, newest=True),
            "sometimes 1m": store.samples(name, "sometimes", HOUR, until, "1m"),
            "names": store.sample_names(name, HOUR + 1200),
            "minutes": store.minute_counts(name, HOUR, until, latency=0.3),
            "first": store.first_time(name, HOUR + 1000),
            "first sometimes": store.first_time(name, HOUR + 1000, "sometimes"),
        }
    return found
