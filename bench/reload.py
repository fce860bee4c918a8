"""Live reload at scale: N http monitors (default 10,000 at a 30 s interval) running against a
local target; then the config file is reloaded three ways — unchanged, one monitor changed,
the default interval changed (every monitor changes). Prints each reload's time as a ratio
of a load of the same file (validating it is most of a reload's work), and the longest
the event loop stalled during the reloads as a ratio of its longest stall over the same time
of steady running just before.

    python bench/reload.py [--monitors 10000] [--interval 30]

The engine runs pinned to one core, the target on the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import pin, target_server


def config_text(port: int, monitors: int, interval: float, first_expect: str) -> str:
    lines = [
        "engine: {startup_spread: 30s}",
        f"defaults: {{interval: {interval}s, timeout: 10s}}",
        "monitors:",
    ]
    lines += [
        f"  - {{name: svc-{i:05d}, http: 'http://127.0.0.1:{port}/health?m={i}',"
        f" expect: ['status == 200', '{first_expect if i == 0 else 'latency < 2s'}']}}"
        for i in range(monitors)
    ]
    return "\n".join(lines) + "\n"


class StallMeter:
    """How late a 10 ms sleep wakes up: the event loop's longest stall since ``reset``."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - before - 0.01)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def reset(self) -> float:
        worst, self.worst = self.worst, 0.0
        return worst


async def run(port: int, monitors: int, interval: float) -> dict[str, object]:
    from watchkeeper.config import load_config
    from watchkeeper.engine.reload import Reloader
    from watchkeeper.engine.runtime import tune_for_long_run
    from watchkeeper.engine.service import Engine
    from watchkeeper.store import Store

    folder = Path(tempfile.mkdtemp(prefix="wk-reload-"))
    path = folder / "wk.yaml"
    path.write_text(config_text(port, monitors, interval, "latency < 2s"))
    config = load_config(path, env={})
    store = Store.open(f"sqlite:///{folder}/wk.db")
    engine = Engine(config, store, startup_spread=min(interval, 30.0))
    await engine.start()
    tune_for_long_run()
    started = time.perf_counter()  # the baseline: a load with the process as warm as a reload's
    load_config(path, env={})
    load = time.perf_counter() - started
    reloader = Reloader(engine, env={})
    meter = StallMeter()
    meter.start()
    await asyncio.sleep(interval)  # every monitor has had its first run

    figures: dict[str, object] = {"monitors": monitors, "load_s": round(load, 3)}
    texts = {
        "unchanged": config_text(port, monitors, interval, "latency < 2s"),
        "one_changed": config_text(port, monitors, interval, "latency < 3s"),
        "all_changed": config_text(port, monitors, interval * 2, "latency < 3s"),
    }
    reload_seconds = 0.0
    meter.reset()
    for name, text in texts.items():
        path.write_text(text)
        began = time.perf_counter()
        outcome = await reloader.reload("bench")
        took = time.perf_counter() - began
        reload_seconds += took
        assert outcome.ok, outcome.errors
        changed = len(outcome.changes.monitors.changed)
        figures[f"reload_{name}_s"] = round(took, 3)
        figures[f"reload_{name}_vs_load"] = round(took / load, 2)
        figures[f"reload_{name}_monitors_changed"] = changed
    stall_reloading = meter.reset()
    await asyncio.sleep(reload_seconds)  # the same time again, steady (the new interval)
    stall_steady = meter.reset()
    figures["loop_stall_reloading_ms"] = round(stall_reloading * 1000, 1)
    figures["loop_stall_steady_ms"] = round(stall_steady * 1000, 1)
    figures["loop_stall_ratio"] = round(stall_reloading / max(stall_steady, 1e-3), 1)
    await engine.stop(grace=11)
    store.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=30)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.child:
        pin(0)
        import uvloop

        print(json.dumps(uvloop.run(run(args.port, args.monitors, args.interval))))
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
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    for key, value in figures.items():
        print(f"{key:>34}: {value}")


if __name__ == "__main__":
    main()
