"""Browser journeys: how many a core runs a minute, and what each concurrent browser holds.

    python bench/browser_journeys.py [--journeys 24] [--concurrency 1,2,4]

The target (the tests' journey site: a login form, a session cookie, a dashboard) runs in a
process of its own; this process, the Playwright driver and Chromium run the ``login``
journey of six steps (goto, fill, fill, click, wait_for, expect) through the ``browser``
check and its pool. For each concurrency:

- CPU per journey: the CPU time (user + system, and that of exited children such as each
  journey's renderer) of this process and every process under it, over the journeys, so
  "journeys per core-minute" = 60 / CPU seconds per journey;
- the baseline in the same run: an ``http`` check of the same login page, the same way;
- memory per browser: PSS (shared pages split between the processes sharing them) of each
  browser's process tree after the journeys, and RSS (what the pool's ``memory`` limit
  reads: an upper bound).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.journey_site import EMAIL, PASSWORD, JourneySite  # noqa: E402

from watchkeeper.checks import Resources  # noqa: E402
from watchkeeper.checks._browser_options import BrowserOptions  # noqa: E402
from watchkeeper.checks._browser_pool import BrowserPool  # noqa: E402
from watchkeeper.config import parse_config  # noqa: E402
from watchkeeper.engine import run_check  # noqa: E402

JOURNEY = """
monitors:
  - name: login
    timeout: 60s
    browser:
      steps:
        - goto: {url}/login
        - fill: {{selector: "#email", value: {email}}}
        - fill: {{selector: "#password", value: "{password}"}}
        - click: "button[type=submit]"
        - wait_for: "text=Welcome back"
        - expect: {{url: "**/dashboard"}}
  - {{name: page, http: "{url}/login", timeout: 10s}}
"""


def tree_cpu() -> float:
    """CPU seconds of this process and its descendants, exited children included."""
    total = 0.0
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def pss(pid: int | None) -> tuple[int, int]:
    if pid is None:
        return 0, 0
    root = psutil.Process(pid)
    shared = rss = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        shared += int(getattr(info, "pss", info.rss))
        rss += int(info.rss)
    return shared, rss


async def run(journeys: int, concurrency: int, url: str) -> dict[str, Any]:
    config = parse_config(
        textwrap.dedent(JOURNEY.format(url=url, email=EMAIL, password=PASSWORD)), "bench.yaml"
    )
    journey, page = config.monitors
    options = BrowserOptions(concurrency=concurrency, restart_after=100_000)
    resources = Resources(settings={"browser": options})
    try:
        # warm: one browser per slot started, the first journeys' imports paid
        warm = await asyncio.gather(*(run_check(journey, resources) for _ in range(concurrency)))
        assert all(r.ok for r in warm), [r.reason for r in warm]
        gate = asyncio.Semaphore(concurrency)

        async def one() -> float:
            async with gate:
                result = await run_check(journey, resources)
                assert result.ok, result.reason
                return float(result.latency or 0.0)

        cpu, wall = tree_cpu(), time.perf_counter()
        latencies = await asyncio.gather(*(one() for _ in range(journeys)))
        cpu, wall = tree_cpu() - cpu, time.perf_counter() - wall
        pool: BrowserPool = resources.shared("browser.pool", lambda: BrowserPool(options))
        memory = [await asyncio.to_thread(pss, slot.pid) for slot in pool._all]

        http_cpu = tree_cpu()
        for _ in range(journeys * 5):
            result = await run_check(page, resources)
            assert result.ok, result.reason
        http_cpu = (tree_cpu() - http_cpu) / (journeys * 5)
    finally:
        await resources.aclose()
    per = cpu / journeys
    return {
        "concurrency": concurrency,
        "journeys": journeys,
        "wall_s": wall,
        "per_minute_wall": journeys / wall * 60,
        "cpu_per_journey_s": per,
        "per_core_minute": 60 / per,
        "latency_p50_s": statistics.median(latencies),
        "pss_mib": [round(p / 2**20) for p, _ in memory],
        "rss_mib": [round(r / 2**20) for _, r in memory],
        "http_cpu_s": http_cpu,
        "ratio": per / http_cpu if http_cpu else float("nan"),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", type=int, default=24)
    parser.add_argument("--concurrency", default="1,2,4")
    args = parser.parse_args()
    async with JourneySite() as site:
        rows = [await run(args.journeys, int(c), site.url) for c in args.concurrency.split(",")]
    print(
        "| browsers | journeys/min (wall) | CPU s/journey | journeys/core-min | p50 | "
        "PSS per browser (MiB) | RSS per browser (MiB) | http check CPU s | journey/http |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['concurrency']} | {row['per_minute_wall']:.0f} | "
            f"{row['cpu_per_journey_s']:.3f} | {row['per_core_minute']:.0f} | "
            f"{row['latency_p50_s']:.2f} s | {row['pss_mib']} | {row['rss_mib']} | "
            f"{row['http_cpu_s'] * 1000:.1f} ms | {row['ratio']:.0f}× |"
        )


if __name__ == "__main__":
    asyncio.run(main())
