"""``host``: the machine Watchkeeper runs on, read with psutil.

    - {name: box, host: local, expect: ["disk./.used_pct < 90", "memory.used_pct < 90",
                                         "cpu.steal_pct < 10", "load.per_cpu < 2"]}

Rates (CPU shares, disk and network throughput) are measured between this run and the one
before (the first run measures over 200 ms). Facts:

- ``cpu.used_pct``, ``cpu.iowait_pct``, ``cpu.steal_pct``; ``load.1``, ``load.5``, ``load.15``,
  ``load.per_cpu`` (1-minute load per core);
- ``memory.used_pct``, ``memory.available`` (bytes), ``swap.used_pct``;
- ``disk.<mount>.used_pct``, ``.free`` (bytes), ``.inodes_used_pct`` for each mounted file
  system (``disk./``, ``disk./var``; or ``disk["/var/lib"]``);
- ``io.read_bytes_per_s``, ``io.write_bytes_per_s``, ``net.in_bytes_per_s``,
  ``net.out_bytes_per_s``, ``net.errors`` (since the last run);
- ``disk.<mount>.full_in`` (seconds until full at the last 6 h's rate, when filling) and, for
  each name in ``processes:``, ``process.<name>.rss``, ``.count``, ``.growth_per_h``.

Forecasts (``forecast: true``, the default), from what this run of ``wk up`` has seen (30
minutes at least): a disk over 60 % used that fills within 24 h makes the monitor degraded,
within 4 h down (node_exporter's ``NodeFilesystemSpaceFillingUp``); a followed process whose
memory climbs steadily (a line explains it, R² ≥ 0.9, and it rose over 10 %) degraded.

psutil reads /proc: each run is a handful of file reads, in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.lanes import CHECKS, Busy
from watchkeeper.units import format_size

if TYPE_CHECKING:  # psutil and numpy (the forecasts) come with the first probe, not a config
    from watchkeeper.analysis.forecast import Trail

_SKIP_FS = frozenset({"squashfs", "tmpfs", "devtmpfs", "overlay", "proc", "sysfs", "nsfs"})


class HostSettings(CheckSettings):
    shorthand_field = "source"

    source: Literal["local"] = "local"
    mounts: tuple[str, ...] = ()
    """Only these mount points (default: every real file system)."""
    processes: tuple[str, ...] = ()
    """Processes to follow by name (or a word of their command line): resident memory, and
    a warning when it grows steadily."""
    forecast: bool = True
    """Warn when a disk fills within 24 h (down within 4 h) at the last 6 h's rate while
    over 60 % used, and when a followed process's memory climbs steadily."""

    def host_key(self) -> str:
        return "host:local"

    def target(self) -> str:
        return f"local ({os.uname().nodename})"


@dataclass
class _Before:
    at: float
    cpu: Any
    io: Any
    net: Any


async def probe(settings: HostSettings, attempt: Attempt) -> None:
    # one thread per monitor at most: a hung mount (NFS) blocks its disk sample for good,
    # and must cost one thread, not a new one every interval
    key = ("host", attempt.monitor)
    state: dict[str, _Before] = attempt.resources.shared("host.before", dict)
    before = state.get("local")
    try:
        if before is None or time.monotonic() - before.at > 3600:
            before = await CHECKS.run_one(key, _snapshot)
            await asyncio.sleep(0.2)
        attempt.begin("ttfb")
        now = await CHECKS.run_one(key, _snapshot)
        facts = await CHECKS.run_one(key, _facts, settings, before, now)
        if settings.processes:
            facts.update(await CHECKS.run_one(key, _processes, settings.processes))
    except Busy:
        attempt.fail("the previous sample is still stuck (a hung mount?)")
        return
    attempt.end("ttfb")
    state["local"] = now
    attempt.observation.facts.update(facts)
    trails: dict[str, Trail] = attempt.resources.shared("host.trails", dict)
    _forecast(settings, attempt, trails, time.time())


def _forecast(
    settings: HostSettings, attempt: Attempt, trails: dict[str, Trail], at: float
) -> None:
    """Follow disks and processes over time; add ``full_in`` / ``growth_per_h`` facts and
    say when a disk is filling up or a process leaks."""
    from watchkeeper.analysis import forecast
    from watchkeeper.analysis.forecast import Trail

    facts = attempt.observation.facts
    for key, value in facts.items():
        if not key.startswith("disk.") or not isinstance(value, dict):
            continue
        trail = trails.setdefault(key, Trail(forecast.DISK_SPAN))
        trail.add(at, float(value["used"]))
        trend = forecast.fit(trail.points)
        if trend is None:
            continue
        full_in = forecast.eta(trend, float(value["used"] + value["free"]), at)  # avail → 0
        if full_in is None:
            continue
        value["full_in"] = full_in
        if not settings.forecast or value["used_pct"] <= forecast.DISK_MIN_USED_PCT:
            continue
        text = (
            f"{key.removeprefix('disk.')} fills up in {forecast.format_eta(full_in)} at the "
            f"last {forecast.format_eta(trend.span)}'s rate ({value['used_pct']:.0f}% used)"
        )
        if full_in <= forecast.DISK_CRITICAL_WITHIN:
            attempt.fail(text)
        elif full_in <= forecast.DISK_WARN_WITHIN:
            attempt.warn(text)
    available = facts.get("memory.available")
    for key, value in facts.items():
        if not key.startswith("process.") or not isinstance(value, dict) or not value["count"]:
            continue
        trail = trails.setdefault(key, Trail(forecast.DISK_SPAN))
        trail.add(at, float(value["rss"]))
        trend = forecast.fit(trail.points)
        if trend is None:
            continue
        value["growth_per_h"] = trend.slope * 3600
        if not settings.forecast or not forecast.steady_growth(trend):
            continue
        text = (
            f"{key.removeprefix('process.')} memory grows steadily: "
            f"+{format_size(trend.slope * 3600)}/h over the last "
            f"{forecast.format_eta(trend.span)} (R² {trend.r2:.2f})"
        )
        if isinstance(available, int | float):
            text += (
                f"; the free memory lasts {forecast.format_eta(available / trend.slope)} "
                "at this rate"
            )
        attempt.warn(text)


def _processes(names: tuple[str, ...]) -> dict[str, Any]:
    """Resident memory of the processes matching each name (summed over all of them)."""
    import psutil

    found: dict[str, Any] = {f"process.{name}": {"rss": 0, "count": 0} for name in names}
    for process in psutil.process_iter(["name", "cmdline", "memory_info"]):
        info = process.info
        memory = info.get("memory_info")
        if memory is None:
            continue
        words = [info.get("name") or "", *[os.path.basename(w) for w in info.get("cmdline") or ()]]
        for name in names:
            if name in words:
                entry = found[f"process.{name}"]
                entry["rss"] += int(memory.rss)
                entry["count"] += 1
    return found


def _snapshot() -> _Before:
    import psutil

    try:
        io = psutil.disk_io_counters()
    except (OSError, RuntimeError):
        io = None
    return _Before(time.monotonic(), psutil.cpu_times(), io, psutil.net_io_counters())


def _facts(settings: HostSettings, before: _Before, now: _Before) -> dict[str, Any]:
    import psutil

    facts: dict[str, Any] = {}
    elapsed = max(now.at - before.at, 1e-6)
    spent = {
        field: getattr(now.cpu, field) - getattr(before.cpu, field) for field in now.cpu._fields
    }
    total = sum(spent.values()) or 1e-9
    idle = spent.get("idle", 0.0) + spent.get("iowait", 0.0)
    facts["cpu.used_pct"] = round(100 * (1 - idle / total), 2)
    facts["cpu.iowait_pct"] = round(100 * spent.get("iowait", 0.0) / total, 2)
    facts["cpu.steal_pct"] = round(100 * spent.get("steal", 0.0) / total, 2)
    one, five, fifteen = os.getloadavg()
    cores = psutil.cpu_count() or 1
    facts.update({"load.1": one, "load.5": five, "load.15": fifteen})
    facts["load.per_cpu"] = round(one / cores, 3)
    memory, swap = psutil.virtual_memory(), psutil.swap_memory()
    facts["memory.used_pct"] = round(memory.percent, 2)
    facts["memory.available"] = int(memory.available)
    facts["swap.used_pct"] = round(swap.percent, 2)
    for partition in psutil.disk_partitions(all=False):
        mount = partition.mountpoint
        if settings.mounts and mount not in settings.mounts:
            continue
        if not settings.mounts and partition.fstype in _SKIP_FS:
            continue
        try:
            usage = psutil.disk_usage(mount)
            stats = os.statvfs(mount)
        except OSError:
            continue
        inodes = stats.f_files
        facts[f"disk.{mount}"] = {
            "used_pct": round(usage.percent, 2),
            "free": int(usage.free),
            "used": int(usage.used),
            "total": int(usage.total),
            "inodes_used_pct": round(100 * (1 - stats.f_ffree / inodes), 2) if inodes else 0.0,
        }
    if now.io is not None and before.io is not None:
        facts["io.read_bytes_per_s"] = round((now.io.read_bytes - before.io.read_bytes) / elapsed)
        facts["io.write_bytes_per_s"] = round(
            (now.io.write_bytes - before.io.write_bytes) / elapsed
        )
    facts["net.in_bytes_per_s"] = round((now.net.bytes_recv - before.net.bytes_recv) / elapsed)
    facts["net.out_bytes_per_s"] = round((now.net.bytes_sent - before.net.bytes_sent) / elapsed)
    facts["net.errors"] = (now.net.errin + now.net.errout) - (before.net.errin + before.net.errout)
    return facts


CHECK = CheckKind(
    name="host",
    settings=HostSettings,
    subjects={
        "ttfb": ValueType.DURATION,
        "cpu.used_pct": ValueType.NUMBER,
        "cpu.iowait_pct": ValueType.NUMBER,
        "cpu.steal_pct": ValueType.NUMBER,
        "load.1": ValueType.NUMBER,
        "load.5": ValueType.NUMBER,
        "load.15": ValueType.NUMBER,
        "load.per_cpu": ValueType.NUMBER,
        "memory.used_pct": ValueType.NUMBER,
        "memory.available": ValueType.SIZE,
        "swap.used_pct": ValueType.NUMBER,
        "disk.*": ValueType.ANY,
        "process.*": ValueType.ANY,
        "io.read_bytes_per_s": ValueType.SIZE,
        "io.write_bytes_per_s": ValueType.SIZE,
        "net.in_bytes_per_s": ValueType.SIZE,
        "net.out_bytes_per_s": ValueType.SIZE,
        "net.errors": ValueType.NUMBER,
    },
    probe=probe,
    runtime=("psutil", "watchkeeper.analysis.forecast"),
)
