"""What a machine used over the look-back, from the series the store holds.

- ``host`` monitors: ``cpu.used_pct`` (the 1-minute means), ``memory.used_pct`` (the
  1-minute highs: used = total − available) and the memory it has (``memory.available`` /
  (1 − used share)), ``net.in_bytes_per_s`` + ``net.out_bytes_per_s``.
- ``prometheus`` monitors of a node_exporter (the series ``checks.prometheus.MACHINE_SERIES``
  records): CPU used = 1 − idle cores (``node_cpu_seconds_total{mode="idle"}`` rate) / cores
  (its series count); memory used = 1 − ``MemAvailable`` / ``MemTotal``; network bytes
  received + sent per second (every device but ``lo``).

Traffic is the network bytes: its growth compares the mean of the newer half of the data
with the older half. Buckets are 1 minute while the minute rollups keep the look-back, else
1 hour. Synchronous: run it off the event loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from watchkeeper.store import Store
from watchkeeper.store.samples import SamplePoint

MINUTE_UP_TO = 90 * 86400.0
"""The minute rollups' default retention: longer look-backs read hourly buckets."""
_IDLE = 'metric.node_cpu_seconds_total{mode="idle"}'
_AVAILABLE = "metric.node_memory_MemAvailable_bytes.value"
_TOTAL = "metric.node_memory_MemTotal_bytes.value"
_NET = (
    'metric.node_network_receive_bytes_total{device!="lo"}.rate',
    'metric.node_network_transmit_bytes_total{device!="lo"}.rate',
)


@dataclass(frozen=True, slots=True)
class Usage:
    """A machine's use over the look-back (None where its series are missing)."""

    first: float | None
    """When the data starts (the older of the CPU and memory series)."""
    last: float | None
    cpu_p95: float | None
    """Percent of the whole machine, 95th percentile of the buckets' means."""
    memory_p99: float | None
    """Percent of its memory, 99th percentile of the buckets' highs."""
    memory_total: float | None = None
    """Bytes, where the machine reports it (node_exporter; a host's available memory)."""
    traffic_before: float | None = None
    """Mean network bytes per second, the older half of the data."""
    traffic_after: float | None = None
    """The same, the newer half."""

    @property
    def days(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        return (self.last - self.first) / 86400

    @property
    def traffic_growth_pct(self) -> float | None:
        before, after = self.traffic_before, self.traffic_after
        if before is None or after is None:
            return None
        if before <= 0:
            return 0.0 if after <= 0 else math.inf
        return 100 * (after / before - 1)


def read(store: Store, monitor: str, kind: str, since: float, until: float) -> Usage:
    """The use of the machine behind ``monitor`` (a host or prometheus one)."""
    resolution = "1m" if until - since <= MINUTE_UP_TO else "1h"
    width = 60.0 if resolution == "1m" else 3600.0
    limit = math.ceil((until - since) / width) + 2

    def series(name: str) -> list[SamplePoint]:
        return store.samples(monitor, name, since, until, resolution, limit)

    if kind == "host":
        cpu = [(p.at, p.mean) for p in series("cpu.used_pct")]
        used = series("memory.used_pct")
        memory = [(p.at, p.max) for p in used]
        total = _host_memory(used, series("memory.available"))
        traffic = _summed([series(name) for name in ("net.in_bytes_per_s", "net.out_bytes_per_s")])
    else:
        cores = _median([p.last for p in series(f"{_IDLE}.count")])
        cpu = []
        if cores:
            cpu = [(p.at, _clamp(100 * (1 - p.mean / cores))) for p in series(f"{_IDLE}.rate")]
        total = _median([p.last for p in series(_TOTAL)])
        memory = []
        if total:
            memory = [(p.at, _clamp(100 * (1 - p.min / total))) for p in series(_AVAILABLE)]
        traffic = _summed([series(name) for name in _NET])
    times = [at for at, _ in (*cpu, *memory)]
    first = min(times) if times else None
    before, after = _halves(traffic)
    return Usage(
        first=first,
        last=max(times) if times else None,
        cpu_p95=_percentile([v for _, v in cpu], 95),
        memory_p99=_percentile([v for _, v in memory], 99),
        memory_total=total,
        traffic_before=before,
        traffic_after=after,
    )


def maximum(store: Store, monitor: str, name: str, since: float, until: float) -> float | None:
    """The highest value of one series over the window, its 99th percentile of the hourly
    highs (a database's size, a cache's memory)."""
    limit = math.ceil((until - since) / 3600) + 2
    highs = [p.max for p in store.samples(monitor, name, since, until, "1h", limit)]
    return _percentile(highs, 99)


def newest(store: Store, monitor: str, name: str, since: float) -> float | None:
    found = [s.value for s in store.sample_names(monitor, since) if s.name == name]
    return found[0] if found else None


def _host_memory(used: list[SamplePoint], available: list[SamplePoint]) -> float | None:
    """The host's memory in bytes: available / (1 − used share), by bucket, the median."""
    shares = {p.at: p.last for p in used}
    totals = [
        p.last / (1 - shares[p.at] / 100)
        for p in available
        if p.at in shares and 0 <= shares[p.at] < 99
    ]
    return _median(totals)


def _percentile(values: list[float], q: float) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    return float(np.percentile(np.asarray(finite, dtype=np.float64), q))


def _median(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v) and v > 0]
    return float(np.median(finite)) if finite else None


def _clamp(percent: float) -> float:
    return min(100.0, max(0.0, percent))


def _summed(parts: list[list[SamplePoint]]) -> list[tuple[float, float]]:
    """The buckets' means added up across series (received + sent), by bucket."""
    totals: dict[float, float] = {}
    for points in parts:
        for point in points:
            totals[point.at] = totals.get(point.at, 0.0) + point.mean
    return sorted(totals.items())


def _halves(points: list[tuple[float, float]]) -> tuple[float | None, float | None]:
    """The mean of the older half of the time span and of the newer half."""
    if len(points) < 2:
        return None, None
    middle = (points[0][0] + points[-1][0]) / 2
    older = [v for at, v in points if at < middle]
    newer = [v for at, v in points if at >= middle]
    if not older or not newer:
        return None, None
    return sum(older) / len(older), sum(newer) / len(newer)
