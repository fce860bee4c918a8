"""The host check on this machine (psutil), and its forecasts: a disk filling up and a
leaking process — on the real disk and a real process, with the earlier hours of history
handed to the check (a test cannot wait six hours)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import psutil

from watchkeeper.analysis.forecast import Trail
from watchkeeper.checks import Resources
from watchkeeper.model import Result, State

Check = Callable[[str], Awaitable[Result]]


async def test_the_host_check_reads_cpu_memory_disks_and_load(check: Check) -> None:
    result = await check("""
        monitors:
          - name: box
            host: local
            expect: ["disk./.used_pct < 100", "memory.used_pct < 100", "cpu.used_pct >= 0",
                     "load.per_cpu >= 0", "disk./.inodes_used_pct < 100"]
        """)
    assert result.ok, result.reason
    metrics = result.metrics
    usage = psutil.disk_usage("/")
    assert abs(metrics["disk./.total"] - usage.total) < 1e6
    assert abs(metrics["disk./.used_pct"] - usage.percent) < 1.0
    assert 0 <= metrics["cpu.used_pct"] <= 100 and 0 <= metrics["cpu.steal_pct"] <= 100
    assert metrics["load.1"] == metrics["load.1"] >= 0
    assert abs(metrics["load.1"] - os.getloadavg()[0]) < 2
    assert metrics["memory.available"] > 0
    assert "net.in_bytes_per_s" in metrics and "io.read_bytes_per_s" in metrics


async def test_a_host_expectation_fails_with_the_observed_value(check: Check) -> None:
    result = await check("""
        monitors:
          - {name: box, host: local, expect: ["disk./.used_pct < 0.001"]}
        """)
    assert not result.ok and result.error is None
    used = psutil.disk_usage("/").percent
    assert result.failures[0].startswith("disk./.used_pct ")
    assert result.failures[0].endswith(", expected < 0.001")
    assert abs(float(result.failures[0].split()[1].rstrip(",")) - used) < 1.0


async def test_the_host_check_warns_of_a_disk_filling_up_within_a_day(
    check: Check, resources: Resources
) -> None:
    usage = psutil.disk_usage("/")
    now = time.time()
    # the disk has been filling so that it is full 10 h from now: the past 6 h on that line
    rate = usage.free / (10 * 3600)
    trail = Trail(6 * 3600)
    for minute in range(360, 0, -5):
        trail.add(now - minute * 60, usage.used - rate * minute * 60)
    resources.shared("host.trails", dict)["disk./"] = trail
    result = await check("""
        monitors:
          - {name: box, host: {mounts: ["/"]}}
        """)
    full_in = result.metrics.get("disk./.full_in")
    assert full_in is not None and 8 * 3600 < full_in < 12 * 3600
    if usage.percent > 60:
        assert result.health is State.DEGRADED
        assert any("/ fills up in" in warning for warning in result.warnings)
    else:  # under 60 % used: the forecast is a number, not a warning
        assert result.health is State.UP and not result.warnings


async def test_the_host_check_follows_a_leaking_process(check: Check, resources: Resources) -> None:
    leak = subprocess.Popen(  # noqa: ASYNC220 - started once, before the loop's work
        [
            sys.executable,
            "-c",
            "import time\nblocks = []\nwhile True:\n"
            "    blocks.append(bytearray(4_000_000))\n    time.sleep(0.05)\n",
            "wk-leaky-worker",
        ],
    )
    try:
        await asyncio.sleep(1.0)
        rss = psutil.Process(leak.pid).memory_info().rss
        now = time.time()
        trail = Trail(6 * 3600)
        for minute in range(180, 0, -5):  # three hours of the same climb: +100 MB/h
            trail.add(now - minute * 60, rss - 100e6 * minute / 60)
        resources.shared("host.trails", dict)["process.wk-leaky-worker"] = trail
        result = await check("""
            monitors:
              - {name: box, host: {processes: [wk-leaky-worker], mounts: ["/"]}}
            """)
        assert result.metrics["process.wk-leaky-worker.count"] == 1
        assert result.metrics["process.wk-leaky-worker.rss"] > 4_000_000
        assert result.metrics["process.wk-leaky-worker.growth_per_h"] > 50e6
        assert result.health is State.DEGRADED
        assert any("wk-leaky-worker memory grows steadily" in w for w in result.warnings)
    finally:
        leak.kill()
        leak.wait()


def test_a_disk_over_60_percent_filling_within_a_day_degrades_within_4_hours_is_down() -> None:
    from watchkeeper.checks.base import Attempt
    from watchkeeper.checks.host import HostSettings, _forecast

    def judge(hours_left: float, used_pct: float) -> Attempt:
        total, now = 100e9, 1_800_000_000.0
        used = total * used_pct / 100
        rate = (total - used) / (hours_left * 3600)
        trail = Trail(6 * 3600)
        for minute in range(360, 0, -5):
            trail.add(now - minute * 60, used - rate * minute * 60)
        attempt = Attempt(resources=Resources(), timeout=5)
        attempt.observation.facts["disk./data"] = {
            "used_pct": used_pct,
            "used": used,
            "free": total - used,
            "total": total,
        }
        _forecast(HostSettings(), attempt, {"disk./data": trail}, now)
        return attempt

    soon = judge(10, 80)
    assert soon.observation.error is None
    assert soon.observation.warnings == [
        "/data fills up in 10.0h at the last 6.0h's rate (80% used)"
    ]
    urgent = judge(3, 80)
    assert urgent.observation.error == "/data fills up in 3.0h at the last 6.0h's rate (80% used)"
    assert judge(10, 40).observation.warnings == [], "under 60 % used: no alert"
    assert judge(30, 80).observation.warnings == [], "full in over a day: no alert"
    assert judge(30, 80).observation.facts["disk./data"]["full_in"] > 29 * 3600
