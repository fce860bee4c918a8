"""Scale: 10,000 http monitors at a 30 s interval against a local target for 5 minutes, the
engine pinned to one core. Prints scheduling lag (p50/p99/max), missed runs, RSS and CPU.

    python bench/scale.py [--monitors 10000] [--interval 30] [--seconds 300]

Targets: lag p99 < 1 s, no missed runs, RSS < 300 MB. The target server runs on the other
core. Every monitor has its own URL (a query string), as a real fleet would.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import pin, target_server


async def run(port: int, monitors: int, interval: float, seconds: float) -> dict[str, object]:
    import psutil

    from watchkeeper.config import parse_config
    from watchkeeper.engine.runtime import tune_for_long_run
    from watchkeeper.engine.service import Engine
    from watchkeeper.store import Store

    process = psutil.Process()
    lines = [f"defaults: {{interval: {interval}s, timeout: 10s}}", "monitors:"]
    lines += [
        f"  - {{name: svc-{i:05d}, http: 'http://127.0.0.1:{port}/health?m={i}',"
        " expect: ['status == 200', 'latency < 2s']}"
        for i in range(monitors)
    ]
    folder = tempfile.mkdtemp(prefix="wk-scale-")
    started_load = time.perf_counter()
    config = parse_config("\n".join(lines), str(Path(folder, "wk.yaml")), env={})
    load_seconds = time.perf_counter() - started_load
    store = Store.open(f"sqlite:///{folder}/wk.db")
    engine = Engine(config, store, startup_spread=interval)
    await engine.start()
    tune_for_long_run()  # as wk up does
    scheduler, writer = engine.scheduler, engine.writer
    assert scheduler is not None and writer is not None
    began = time.time()
    await asyncio.sleep(interval)  # every monitor has had its first run
    cpu_before, steady_from = process.cpu_times(), time.perf_counter()
    rss_samples: list[int] = []
    while time.time() - began < seconds:
        await asyncio.sleep(5)
        rss_samples.append(process.memory_info().rss)
    cpu_after, steady_wall = process.cpu_times(), time.perf_counter() - steady_from
    ended = time.time()
    await engine.stop(grace=11)
    store.close()
    cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / steady_wall

    # Missed runs, from each monitor's own results: after its first run (within the startup
    # spread) it moves to its slot on the grid, half to one and a half intervals later; from
    # then on every gap should be one interval, and the last run no older than one interval.
    with sqlite3.connect(f"{folder}/wk.db") as db:
        times: dict[int, list[float]] = {}
        for monitor_id, ts in db.execute("select monitor_id, ts from results order by ts"):
            times.setdefault(monitor_id, []).append(ts)
        failed = db.execute("select count(*) from results where ok = 0").fetchone()[0]
    rows = list(times.values())
    missed = 0
    for runs in rows:
        gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
        if gaps and not 0.5 * interval - 1 <= gaps[0] <= 1.5 * interval + 1:
            missed += 1
        missed += sum(round(gap / interval) - 1 for gap in gaps[1:] if gap > 1.5 * interval)
        if ended - runs[-1] > interval + 1:
            missed += int((ended - runs[-1] - 1) // interval)
    return {
        "monitors": monitors,
        "interval_s": interval,
        "seconds": round(ended - began, 1),
        "config_load_s": round(load_seconds, 2),
        "checks": scheduler.stats.completed,
        "written": writer.written,
        "failed_results": failed,
        "monitors_with_results": len(rows),
        "missed_runs": missed + (monitors - len(rows)),
        "skipped_slots": scheduler.stats.skipped,
        "lag_p50_ms": round(scheduler.stats.lag_seconds(50) * 1000, 2),
        "lag_p99_ms": round(scheduler.stats.lag_seconds(99) * 1000, 2),
        "lag_max_ms": round(scheduler.stats.lag_seconds(100) * 1000, 2),
        "rss_mb_max": round(max(rss_samples) / 2**20, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_percent_steady": round(cpu * 100, 1),
        "checks_per_s": round(scheduler.stats.completed / (ended - began), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.child:
        pin(0)
        import uvloop

        figures = uvloop.run(run(args.port, args.monitors, args.interval, args.seconds))
        print(json.dumps(figures))
        return
    with target_server(cpu=1) as port:
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--port",
                str(port),
                "--monitors",
                str(args.monitors),
                "--interval",
                str(args.interval),
                "--seconds",
                str(args.seconds),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    for key, value in figures.items():
        print(f"{key:>22}: {value}")
    ok = (
        figures["lag_p99_ms"] < 1000 and figures["missed_runs"] == 0 and figures["rss_mb_max"] < 300
    )
    print("targets (lag p99 < 1 s, no missed runs, RSS < 300 MB):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
