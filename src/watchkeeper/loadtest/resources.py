"""What the target's machine is doing while it is loaded: the local process behind the port
(psutil), and optionally a Prometheus endpoint (node_exporter, or an app's own /metrics).

Sampled every half second in a thread; ``window(start, end)`` averages what was seen between
two moments, as utilisation shares in [0, 1] with a name a person understands.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.request
from dataclasses import dataclass, field

import psutil
from prometheus_client.parser import text_string_to_metric_families

from watchkeeper.units import plural

SATURATED = 0.8
_MEMORY = ("node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes")


@dataclass
class Sample:
    at: float
    values: dict[str, float]


@dataclass
class Sampler:
    port: int | None
    metrics_url: str | None = None
    every: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _process: psutil.Process | None = None
    _last_scrape: tuple[float, dict[str, float]] | None = None

    def start(self) -> Sampler:
        if self.port is not None:
            self._process = _listener(self.port)
            if self._process is None:
                self.notes.append(
                    f"no local process listens on port {self.port}: its CPU and memory are "
                    "not watched (give --metrics for a remote host)"
                )
            else:
                self._process.cpu_percent(None)
        psutil.cpu_percent(None)
        self._thread = threading.Thread(target=self._run, name="wk-resources", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            values: dict[str, float] = {"machine CPU": psutil.cpu_percent(None) / 100}
            process = self._process
            if process is not None:
                with contextlib.suppress(psutil.Error):
                    cores = _cores_for(process)
                    share = process.cpu_percent(None) / 100 / cores
                    values[f"target process CPU ({plural(cores, 'core')})"] = share
                    memory = psutil.virtual_memory()
                    values["machine memory"] = memory.percent / 100
            if self.metrics_url:
                values.update(self._scrape())
            self.samples.append(Sample(time.monotonic(), values))

    def _scrape(self) -> dict[str, float]:
        url = self.metrics_url or ""
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                text = answer.read(8 * 1024 * 1024).decode("utf-8", "replace")
        except (OSError, ValueError) as exc:
            if not any(n.startswith("--metrics") for n in self.notes):
                self.notes.append(f"--metrics {self.metrics_url}: {exc}")
            return {}
        now = time.monotonic()
        counters: dict[str, float] = {}
        gauges: dict[str, float] = {}
        idle = total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "node_cpu_seconds_total":
                    total += sample.value
                    if sample.labels.get("mode") == "idle":
                        idle += sample.value
                elif sample.name == "process_cpu_seconds_total":
                    counters["process"] = counters.get("process", 0.0) + sample.value
                elif sample.name in (
                    "node_memory_MemAvailable_bytes",
                    "node_memory_MemTotal_bytes",
                ):
                    gauges[sample.name] = sample.value
        counters["cpu_idle"], counters["cpu_total"] = idle, total
        values: dict[str, float] = {}
        if self._last_scrape is not None:
            then, before = self._last_scrape
            elapsed = max(now - then, 1e-6)
            spent = counters["cpu_total"] - before.get("cpu_total", 0.0)
            if spent > 0:
                values["remote CPU (node_exporter)"] = (
                    1 - (counters["cpu_idle"] - before.get("cpu_idle", 0.0)) / spent
                )
            if "process" in counters and "process" in before:
                values["remote process CPU"] = (counters["process"] - before["process"]) / elapsed
        available = gauges.get("node_memory_MemAvailable_bytes")
        memory_total = gauges.get("node_memory_MemTotal_bytes")
        if available is not None and memory_total:
            values["remote memory (node_exporter)"] = 1 - available / memory_total
        self._last_scrape = (now, counters)
        return values

    def window(self, start: float, end: float) -> dict[str, float]:
        """Mean of each resource over ``[start, end]`` (monotonic seconds)."""
        chosen = [s for s in self.samples if start <= s.at <= end]
        totals: dict[str, list[float]] = {}
        for sample in chosen:
            for name, value in sample.values.items():
                totals.setdefault(name, []).append(value)
        return {name: round(sum(v) / len(v), 4) for name, v in totals.items() if v}


def _listener(port: int) -> psutil.Process | None:
    """The local process listening on ``port`` (needs the same user, or root)."""
    with contextlib.suppress(psutil.Error, OSError):
        for connection in psutil.net_connections(kind="tcp"):
            if (
                connection.status == psutil.CONN_LISTEN
                and connection.laddr
                and connection.laddr.port == port
                and connection.pid
            ):
                return psutil.Process(connection.pid)
    return None


def _cores_for(process: psutil.Process) -> int:
    """How many cores the process can use: its affinity, and one for a single thread."""
    try:
        allowed = len(process.cpu_affinity() or [])
    except (psutil.Error, AttributeError):
        allowed = psutil.cpu_count() or 1
    try:
        threads = process.num_threads()
    except psutil.Error:
        threads = allowed
    return int(max(1, min(allowed or 1, threads)))


def first_saturated(
    windows: list[tuple[float, dict[str, float]]],
) -> tuple[str, float, float] | None:
    """(resource, rate, share) for the first resource at or over ``SATURATED`` as the rate
    rose, or None."""
    for rate, values in sorted(windows):
        over = [(name, share) for name, share in values.items() if share >= SATURATED]
        if over:
            name, share = max(over, key=lambda pair: pair[1])
            return name, rate, share
    return None
