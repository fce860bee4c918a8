"""Engine overhead: checks/s of Watchkeeper's whole pipeline (scheduler → http check →
expectations → state machine → batched SQLite writer) against a bare aiohttp loop making the
same fresh-connection requests with the same concurrency, in the same run, same target.

    python bench/engine_overhead.py [--seconds 5] [--rounds 8] [--concurrency 50] [--anomaly]

Each side runs in its own process pinned to core 0; the target runs on core 1. Both sides are
CPU-bound, so two figures are printed per side: throughput (checks/s) and CPU time per check
(process CPU, writer thread included — steadier on a shared machine). Rounds alternate the
two sides and the ratios are taken round by round. Target >= 0.80. ``--anomaly`` adds a
third side, the engine with ``anomaly: on`` for every monitor (the online drift detector on
each check's latency), and prints its CPU per check against the plain engine's.
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
from _support import pin, target_server

Measure = tuple[int, float, float]  # (checks, wall seconds, CPU seconds)


async def _window(counter: object, seconds: float) -> Measure:
    """Count completions over ``seconds`` of wall time; ``counter()`` returns the total."""
    assert callable(counter)
    before, started, cpu = counter(), time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    return counter() - before, time.perf_counter() - started, time.process_time() - cpu


async def baseline(port: int, seconds: float, concurrency: int, warmup: float) -> Measure:
    import aiohttp

    url = f"http://127.0.0.1:{port}/health"
    done = 0
    stop = False
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal done
            while not stop:
                async with session.get(url) as response:
                    await response.read()
                    if response.status == 200:
                        done += 1

        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        measured = await _window(lambda: done, seconds)
        stop = True
        await asyncio.gather(*tasks)
    return measured


async def engine(
    port: int, seconds: float, concurrency: int, warmup: float, anomaly: bool = False
) -> Measure:
    from watchkeeper.config import parse_config
    from watchkeeper.engine.runtime import tune_for_long_run
    from watchkeeper.engine.service import Engine
    from watchkeeper.store import Store

    monitors = 1000  # at 100 ms each: far more demand than one core can serve
    lines = [
        f"engine: {{concurrency: {concurrency}, per_host: {concurrency}}}",
        "defaults: {interval: 100ms, timeout: 100ms, confirm: 2, anomaly: "
        + ("on}" if anomaly else "off}"),
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
        tune_for_long_run()  # as wk up does
        scheduler, writer = runner.scheduler, runner.writer
        assert scheduler is not None and writer is not None
        await asyncio.sleep(warmup)
        measured = await _window(lambda: scheduler.stats.completed, seconds)
        await runner.stop(grace=2)
        completed, written = scheduler.stats.completed, writer.written
        store.close()
    assert written == completed, "every completed check must be written"
    return measured


def child(mode: str, port: int, seconds: float, concurrency: int) -> None:
    pin(0)
    import uvloop

    if mode == "baseline":
        work = baseline(port, seconds, concurrency, warmup=1.5)
    else:
        work = engine(port, seconds, concurrency, warmup=1.5, anomaly=mode == "anomaly")
    checks, wall, cpu = uvloop.run(work)
    print(json.dumps({"rate": checks / wall, "cpu_per_check": cpu / max(checks, 1)}))


def measure(mode: str, port: int, seconds: float, concurrency: int) -> tuple[float, float]:
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
    figures = json.loads(output.strip().splitlines()[-1])
    return float(figures["rate"]), float(figures["cpu_per_check"])


def _summary(values: list[float], unit: str, scale: float = 1.0) -> str:
    scaled = [v * scale for v in values]
    return (
        f"median {statistics.median(scaled):,.0f}{unit} "
        f"(min {min(scaled):,.0f}, max {max(scaled):,.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--anomaly", action="store_true")
    parser.add_argument("--child", choices=["baseline", "engine", "anomaly"])
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.port, args.seconds, args.concurrency)
        return
    sides = ["baseline", "engine"] + (["anomaly"] if args.anomaly else [])
    rates: dict[str, list[float]] = {side: [] for side in sides}
    cpus: dict[str, list[float]] = {side: [] for side in sides}
    rate_ratios: list[float] = []
    cpu_ratios: list[float] = []
    anomaly_ratios: list[float] = []
    with target_server(cpu=1) as port:
        for round_ in range(args.rounds):
            order = sides if round_ % 2 == 0 else sides[::-1]
            figures = {mode: measure(mode, port, args.seconds, args.concurrency) for mode in order}
            for mode, (rate, cpu) in figures.items():
                rates[mode].append(rate)
                cpus[mode].append(cpu)
            rate_ratios.append(figures["engine"][0] / figures["baseline"][0])
            cpu_ratios.append(figures["baseline"][1] / figures["engine"][1])
            if args.anomaly:
                anomaly_ratios.append(figures["anomaly"][1] / figures["engine"][1])
    print(f"rounds: {args.rounds} x {args.seconds:g}s per side, concurrency {args.concurrency}")
    print(
        f"bare aiohttp loop:  {_summary(rates['baseline'], ' req/s')}, "
        f"CPU {_summary(cpus['baseline'], 'µs', 1e6)} per request"
    )
    print(
        f"watchkeeper engine: {_summary(rates['engine'], ' checks/s')}, "
        f"CPU {_summary(cpus['engine'], 'µs', 1e6)} per check"
    )
    print(
        f"ratio (throughput, engine/baseline): median {statistics.median(rate_ratios):.2f} "
        f"(min {min(rate_ratios):.2f}, max {max(rate_ratios):.2f})"
    )
    print(
        f"ratio (CPU per check, baseline/engine): median {statistics.median(cpu_ratios):.2f} "
        f"(min {min(cpu_ratios):.2f}, max {max(cpu_ratios):.2f}) — target >= 0.80"
    )
    if args.anomaly:
        print(
            f"with anomaly: on:   {_summary(rates['anomaly'], ' checks/s')}, "
            f"CPU {_summary(cpus['anomaly'], 'µs', 1e6)} per check"
        )
        print(
            "ratio (CPU per check, anomaly on/off): median "
            f"{statistics.median(anomaly_ratios):.3f} (min {min(anomaly_ratios):.3f}, "
            f"max {max(anomaly_ratios):.3f})"
        )


if __name__ == "__main__":
    main()
