"""``/metrics``: every monitor and Watchkeeper's own health in the Prometheus text format.

Everything comes from memory — the engine's live states, counters kept here from every
Result, the scheduler's, writer's and deliverer's own counters — never from the database,
so a scrape costs the same whatever the store is doing.

Per monitor (label ``monitor``):

    watchkeeper_monitor_up                     1 up or degraded, 0 down or flapping (no
                                               sample while unknown or paused)
    watchkeeper_monitor_state{state}           1 for the current state, 0 for the others
    watchkeeper_monitor_state_since_seconds    when the current state began (unix time)
    watchkeeper_check_duration_seconds{phase}  histogram per phase: dns connect tls ttfb
                                               transfer total
    watchkeeper_checks_total{outcome}          ok | failed | error
    watchkeeper_certificate_expiry_seconds     when the peer's certificate expires
    watchkeeper_certificate_expires_in_seconds time left until then

Watchkeeper itself: ``watchkeeper_build_info``, ``watchkeeper_scheduler_lag_seconds``
(summary), ``watchkeeper_checks_in_flight``, ``watchkeeper_checks_waiting``,
``watchkeeper_checks_skipped_total``, ``watchkeeper_store_queue_depth``,
``watchkeeper_store_write_seconds`` (summary), ``watchkeeper_store_results_dropped_total``,
``watchkeeper_outbox_depth``, ``watchkeeper_notifications_total{route,outcome}``
(delivered | retry | failed), ``watchkeeper_route_broken{route}``; with real-user monitoring
on, ``watchkeeper_rum_beacons_total{outcome}`` (accepted | duplicate | refused |
sampled_out), ``watchkeeper_rum_limited_total`` (requests answered 429) and
``watchkeeper_rum_tallies_dropped_total``.

Error tracking: ``watchkeeper_error_requests_total`` (SDK requests read),
``watchkeeper_error_events_total{outcome}`` (accepted: queued for the store | duplicate: an
event id seen already | rate_limited: over the project's limit | refused: the queue was full
(503) | dropped: refused by the store or not groupable),
``watchkeeper_error_requests_refused_total`` (malformed or too large),
``watchkeeper_error_requests_limited_total`` (answered 429),
``watchkeeper_error_events_written_total`` (counted into issues),
``watchkeeper_error_queue_depth`` and ``watchkeeper_error_alerts_total`` (notifications
queued for new issues, regressions and spikes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from watchkeeper import __version__
from watchkeeper.config import Monitor
from watchkeeper.engine.service import Engine
from watchkeeper.model import PHASE_NAMES, Result, State

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_EDGES = np.array(BUCKETS)
_PHASES = {name: index for index, name in enumerate(PHASE_NAMES)}
_STATES = tuple(str(state) for state in State)
_OUTCOMES = ("ok", "failed", "error")


@dataclass(slots=True)
class _Counts:
    buckets: np.ndarray = field(  # phases × (buckets + the +Inf one), not cumulative
        default_factory=lambda: np.zeros((len(PHASE_NAMES), len(BUCKETS) + 1), dtype=np.int64)
    )
    sums: np.ndarray = field(default_factory=lambda: np.zeros(len(PHASE_NAMES)))
    outcomes: list[int] = field(default_factory=lambda: [0, 0, 0])
    cert_expires_at: float | None = None


class Metrics:
    """Counts every Result (``observe`` is an engine result listener) and renders it all."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._counts: dict[str, _Counts] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))

    def observe(self, monitor: Monitor, result: Result) -> None:
        counts = self._counts.get(monitor.name)
        if counts is None:
            counts = self._counts[monitor.name] = _Counts()
        counts.outcomes[_OUTCOMES.index(result.outcome)] += 1
        phases = result.phases
        for name, index in _PHASES.items():
            value = getattr(phases, name)
            if value is not None:
                counts.buckets[index, int(np.searchsorted(_EDGES, value))] += 1
                counts.sums[index] += value
        if result.cert_expires_at is not None:
            counts.cert_expires_at = result.cert_expires_at

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Collector:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        engine = self.metrics.engine
        yield from self._monitors(engine)
        yield from self._own(engine)
        yield from _errors(engine)

    def _monitors(self, engine: Engine) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "watchkeeper_monitor_up", "1: up or degraded; 0: down or flapping", labels=["monitor"]
        )
        state = GaugeMetricFamily(
            "watchkeeper_monitor_state", "1 for the current state", labels=["monitor", "state"]
        )
        since = GaugeMetricFamily(
            "watchkeeper_monitor_state_since_seconds",
            "When the current state began (unix time)",
            labels=["monitor"],
        )
        duration = HistogramMetricFamily(
            "watchkeeper_check_duration_seconds",
            "Time spent in each phase of a check",
            labels=["monitor", "phase"],
        )
        checks = CounterMetricFamily(
            "watchkeeper_checks", "Checks run, by outcome", labels=["monitor", "outcome"]
        )
        expiry = GaugeMetricFamily(
            "watchkeeper_certificate_expiry_seconds",
            "When the peer's certificate expires (unix time)",
            labels=["monitor"],
        )
        expires_in = GaugeMetricFamily(
            "watchkeeper_certificate_expires_in_seconds",
            "Time left until the peer's certificate expires (divide by 86400 for days)",
            labels=["monitor"],
        )
        now = time.time()
        counts = self.metrics._counts
        for name in list(engine.monitors):
            status = engine.status.get(name)
            current = str(status.state) if status else "unknown"
            if current in ("up", "degraded"):
                up.add_metric([name], 1.0)
            elif current in ("down", "flapping"):
                up.add_metric([name], 0.0)
            for value in _STATES:
                state.add_metric([name, value], 1.0 if value == current else 0.0)
            if status is not None and status.since:
                since.add_metric([name], status.since)
            seen = counts.get(name)
            if seen is None:
                continue
            for phase, index in _PHASES.items():
                row = seen.buckets[index]
                total = int(row.sum())
                if not total:
                    continue
                cumulative = np.cumsum(row)
                buckets = [(_le(edge), float(cumulative[i])) for i, edge in enumerate(BUCKETS)]
                buckets.append(("+Inf", float(total)))
                duration.add_metric([name, phase], buckets, float(seen.sums[index]))
            for outcome, count in zip(_OUTCOMES, seen.outcomes, strict=True):
                checks.add_metric([name, outcome], float(count))
            if seen.cert_expires_at is not None:
                expiry.add_metric([name], seen.cert_expires_at)
                expires_in.add_metric([name], round(seen.cert_expires_at - now, 3))
        yield from (up, state, since, duration, checks, expiry, expires_in)
        yield from self._locations(engine, now)

    def _locations(self, engine: Engine, now: float) -> Iterator[Metric]:
        """Each location's newest check of the monitors checked from several places."""
        success = GaugeMetricFamily(
            "watchkeeper_location_check_success",
            "1 if the newest check from this location passed, else 0",
            labels=["monitor", "location"],
        )
        seconds = GaugeMetricFamily(
            "watchkeeper_location_check_duration_seconds",
            "The newest check's total time, from this location",
            labels=["monitor", "location"],
        )
        available = GaugeMetricFamily(
            "watchkeeper_location_available",
            "1 if this location's newest check is recent enough to count (its agent speaks)",
            labels=["monitor", "location"],
        )
        for monitor in list(engine.monitors.values()):
            if len(monitor.locations) < 2:
                continue
            seen = {s.location: s for s in engine.quorum.seen(monitor, now)}
            for location in monitor.locations:
                item = seen.get(location)
                available.add_metric(
                    [monitor.name, location], 1.0 if item and item.available else 0.0
                )
                if item is None:
                    continue
                success.add_metric([monitor.name, location], 1.0 if item.result.ok else 0.0)
                if item.result.latency is not None:
                    seconds.add_metric([monitor.name, location], item.result.latency)
        yield from (success, seconds, available)

    def _own(self, engine: Engine) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "watchkeeper_build_info", "Watchkeeper's version", labels=["version"]
        )
        info.add_metric([__version__], 1.0)
        yield info
        monitors = GaugeMetricFamily("watchkeeper_monitors", "Monitors by state", labels=["state"])
        by_state = dict.fromkeys(_STATES, 0)
        for status in list(engine.status.values()):
            by_state[str(status.state)] = by_state.get(str(status.state), 0) + 1
        for value, count in by_state.items():
            monitors.add_metric([value], float(count))
        yield monitors
        scheduler = engine.scheduler
        if scheduler is not None:
            lag = Metric(
                "watchkeeper_scheduler_lag_seconds",
                "How late checks start against their slot (since start)",
                "summary",
            )
            histogram = scheduler.stats.lag_total
            for quantile in (0.5, 0.9, 0.99):
                lag.add_sample(
                    "watchkeeper_scheduler_lag_seconds",
                    {"quantile": str(quantile)},
                    scheduler.stats.lag_seconds(quantile * 100),
                )
            count = histogram.get_total_count()
            lag.add_sample("watchkeeper_scheduler_lag_seconds_count", {}, float(count))
            lag.add_sample(
                "watchkeeper_scheduler_lag_seconds_sum",
                {},
                histogram.get_mean_value() * count / 1e6 if count else 0.0,
            )
            yield lag
            yield _gauge("watchkeeper_checks_in_flight", "Checks running", scheduler.in_flight)
            yield _gauge(
                "watchkeeper_checks_waiting", "Checks due but waiting for a slot", scheduler.waiting
            )
            yield _counter(
                "watchkeeper_checks_skipped",
                "Slots skipped because the previous check overran",
                scheduler.stats.skipped,
            )
        writer = engine.writer
        if writer is not None:
            yield _gauge(
                "watchkeeper_store_queue_depth",
                "Results waiting to be written to the store",
                writer.queue_depth,
            )
            write = SummaryMetricFamily(
                "watchkeeper_store_write_seconds", "Time to commit a batch of results"
            )
            write.add_metric([], count_value=writer.batches, sum_value=writer.write_seconds_total)
            yield write
            yield _counter(
                "watchkeeper_store_results_dropped",
                "Results lost: refused by the store or over the queue limit",
                writer.dropped + writer.overflowed,
            )
        deliverer = engine.alerting.deliverer
        yield _gauge(
            "watchkeeper_outbox_depth", "Notifications not delivered yet", deliverer.unfinished
        )
        sent = CounterMetricFamily(
            "watchkeeper_notifications",
            "Delivery attempts by route and outcome (delivered, retry, failed)",
            labels=["route", "outcome"],
        )
        for route in engine.config.routes:
            for outcome in ("delivered", "retry", "failed"):
                sent.add_metric(
                    [route.name, outcome], float(deliverer.outcomes.get((route.name, outcome), 0))
                )
        yield sent
        broken = GaugeMetricFamily(
            "watchkeeper_route_broken",
            "1 while a route is broken by a permanent delivery error",
            labels=["route"],
        )
        for route in engine.config.routes:
            broken.add_metric([route.name], 1.0 if route.name in deliverer.broken else 0.0)
        yield broken
        rum = engine.rum
        if rum.enabled:
            beacons = CounterMetricFamily(
                "watchkeeper_rum_beacons",
                "Real-user monitoring metric reports by outcome",
                labels=["outcome"],
            )
            counted = {
                "accepted": rum.accepted,
                "duplicate": rum.duplicates,
                "refused": rum.refused,
                "sampled_out": rum.sampled_out,
            }
            for name, number in counted.items():
                beacons.add_metric([name], float(number))
            yield beacons
            yield _counter(
                "watchkeeper_rum_limited", "Beacon requests answered 429 (per address)", rum.limited
            )
            yield _counter(
                "watchkeeper_rum_tallies_dropped",
                "RUM tallies lost: refused by the store or held too long",
                rum.dropped,
            )


def _errors(engine: Engine) -> Iterator[Metric]:
    tracker = engine.errors
    counts = tracker.counts
    yield _counter("watchkeeper_error_requests", "Requests of error SDKs read", counts["requests"])
    events = CounterMetricFamily(
        "watchkeeper_error_events", "Error events sent by SDKs, by outcome", labels=["outcome"]
    )
    for outcome, key in (
        ("accepted", "events"),
        ("duplicate", "duplicates"),
        ("rate_limited", "events_rate_limited"),
        ("refused", "overflowed"),
        ("dropped", "dropped"),
    ):
        events.add_metric([outcome], float(counts[key]))
    yield events
    yield _counter(
        "watchkeeper_error_requests_refused",
        "SDK requests refused as malformed or too large",
        counts["refused"],
    )
    yield _counter(
        "watchkeeper_error_requests_limited",
        "SDK requests answered 429 (every event over the project's rate limit)",
        counts["rate_limited"],
    )
    yield _counter(
        "watchkeeper_error_events_written", "Error events counted into issues", counts["written"]
    )
    yield _gauge(
        "watchkeeper_error_queue_depth", "Error events waiting for the store", tracker.queue_depth
    )
    yield _counter(
        "watchkeeper_error_alerts",
        "Notifications queued for new issues, regressions and spikes",
        tracker.alerts.queued,
    )


def _le(edge: float) -> str:
    return repr(float(edge))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=float(value))
