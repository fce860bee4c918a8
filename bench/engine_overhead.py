"""Engine overhead: checks/s of Watchkeeper's whole pipeline (scheduler → http check →
expectations → state machine → batched SQLite writer) against a bare aiohttp loop making the
same fresh-connection requests with the same concurrency, in the same run, same target.

    python bench/engine_overhead.py [--seconds 10] [--rounds 3] [--concurrency 50]

Each side runs in its own process pinned to core 0; the target runs on core 1. Target >= 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import pin, spread, target_server


async def baseline(port: int, seconds: float, concurrency: int, warmup: float) -> float:
    import aiohttp

    url = f"http://127.0.0.1:{port}/health"
    done = 0
    counting = False
    stop = False
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal done
            while not stop:
                async with session.get(url) as response:
                    await response.read()
                    ok = response.status == 200
                if counting and ok:
                    done += 1

        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        counting = True
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - started
        counting = False
        stop = True
        await asyncio.gather(*tasks)
    return done / elapsed


async def engine(port: int, seconds: float, concurrency: int, warmup: float) -> float:
    from watchkeeper.config import parse_config
    from watchkeeper.engine.service import Engine
    from watchkeeper.store import Store

    monitors = 1000  # at 100 ms each: far more demand than one core can serve
    lines = [
        f"engine: {{concurrency: {concurrency}, per_host: {concurrency}}}",
        "defaults: {interval: 100ms, timeout: 100ms, confirm: 2}",
        "monitors:",
    ]
    lines += [
        f"  - {{name: m{i}, http: 'http://127.0.0.1:{port}/health',"
        " expect: ['status == 200', 'latency < 1s']}"
        for i in range(monitors)
    ]
    with tempfile.TemporaryDirectory() as folder:
        config = parse_config("\n".join(lines), str(Path(folder, "wk.yaml")), env={})
        store = Store.open(f"sqlite:///{folder}/wk.db")
        runner = Engine(config, store, startup_spread=0.1, rollup_every=3600)
        await runner.start()
        assert runner.scheduler is not None and runner.writer is not None
        await asyncio.sleep(warmup)
        before = runner.scheduler.stats.completed
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - started
        done = runner.scheduler.stats.completed - before
        await runner.stop(grace=2)
        written = runner.writer.written
        store.close()
    assert written >= done, "every completed check must be written"
    return done / elapsed


def child(mode: str, port: int, seconds: float, concurrency: int) -> None:
    pin(0)
    import uvloop

    run = baseline if mode == "baseline" else engine
    rate = uvloop.run(run(port, seconds, concurrency, warmup=2.0))
    print(json.dumps({"rate": rate}))


def measure(mode: str, port: int, seconds: float, concurrency: int) -> float:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--port",
            str(port),
            "--seconds",
            str(seconds),
            "--concurrency",
            str(concurrency),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(output.strip().splitlines()[-1])["rate"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--child", choices=["baseline", "engine"])
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.port, args.seconds, args.concurrency)
        return
    rates: dict[str, list[float]] = {"baseline": [], "engine": []}
    ratios: list[float] = []
    with target_server(cpu=1) as port:
        for _ in range(args.rounds):
            base = measure("baseline", port, args.seconds, args.concurrency)
            mine = measure("engine", port, args.seconds, args.concurrency)
            rates["baseline"].append(base)
            rates["engine"].append(mine)
            ratios.append(mine / base)
    print(f"bare aiohttp loop, fresh connections: {spread(rates['baseline'])} req/s")
    print(f"watchkeeper engine (check+judge+state+store): {spread(rates['engine'])} checks/s")
    print(
        f"ratio engine/baseline: median {statistics.median(ratios):.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f}) — target >= 0.80"
    )


if __name__ == "__main__":
    main()
