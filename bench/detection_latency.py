"""Detection latency: from the moment a target starts failing to the notification arriving at
a real HTTP receiver (the webhook route), over many injected outages, against the bound
``interval × confirm + timeout + 1 s``; recoveries likewise with ``recover``.

    python bench/detection_latency.py [--outages 40] [--monitors 10]

A real ``wk up`` process watches targets this script serves and breaks on purpose; the
webhook receiver is in this script too. Monitors: interval 1 s, timeout 500 ms, confirm 2,
recover 2, retry_interval 1 s, group_wait 0 s (grouping is a deliberate wait; with it the
latency grows by up to group_wait).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession, web

INTERVAL, TIMEOUT, CONFIRM, RECOVER = 1.0, 0.5, 2, 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Lab:
    def __init__(self, monitors: int) -> None:
        self.failing: set[int] = set()
        self.arrivals: dict[tuple[str, str], list[float]] = {}
        self.monitors = monitors

    async def target(self, request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        return web.Response(status=503 if index in self.failing else 200, text="x")

    async def hook(self, request: web.Request) -> web.Response:
        arrived = time.time()
        document = json.loads(await request.read())
        for alert in document["alerts"]:
            event = "resolved" if alert["event"] == "resolved" else "firing"
            self.arrivals.setdefault((alert["monitor"], event), []).append(arrived)
        return web.Response(text="ok")

    async def wait_for(self, monitor: str, event: str, count: int, limit: float) -> float | None:
        deadline = time.time() + limit
        while time.time() < deadline:
            seen = self.arrivals.get((monitor, event), [])
            if len(seen) >= count:
                return seen[count - 1]
            await asyncio.sleep(0.01)
        return None


async def run(outages: int, monitors: int) -> dict[str, object]:
    lab = Lab(monitors)
    app = web.Application()
    app.router.add_get("/m/{index}", lab.target)
    app.router.add_post("/hook", lab.hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    folder = tempfile.mkdtemp(prefix="wk-latency-")
    config = Path(folder, "wk.yaml")
    lines = [
        "storage: sqlite:///wk.db",
        f"defaults: {{interval: {INTERVAL}s, timeout: {TIMEOUT}s, confirm: {CONFIRM}, "
        f"recover: {RECOVER}, retry_interval: {INTERVAL}s, notify: [hook], flapping: false}}",
        "notify:",
        f"  - {{name: hook, webhook: 'http://127.0.0.1:{port}/hook', group_wait: 0s}}",
        "monitors:",
    ]
    lines += [f"  - {{name: m{i}, http: 'http://127.0.0.1:{port}/m/{i}'}}" for i in range(monitors)]
    await asyncio.to_thread(config.write_text, "\n".join(lines))
    api = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "watchkeeper",
        "up",
        "-c",
        str(config),
        "--listen",
        f"127.0.0.1:{api}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    detect: list[float] = []
    recover: list[float] = []
    missed = 0
    try:
        async with ClientSession() as session:
            while True:  # until every monitor has been seen up
                try:
                    async with session.get(f"http://127.0.0.1:{api}/api/v1/monitors") as r:
                        items = (await r.json())["items"]
                    if all(item["state"] == "up" for item in items):
                        break
                except Exception:
                    pass
                await asyncio.sleep(0.2)
        rng = random.Random(3)
        counts: dict[str, int] = {}

        async def one_outage(index: int) -> None:
            nonlocal missed
            name = f"m{index}"
            await asyncio.sleep(rng.uniform(0, INTERVAL))  # at any point of the schedule
            counts[name] = counts.get(name, 0) + 1
            started = time.time()
            lab.failing.add(index)
            fired = await lab.wait_for(name, "firing", counts[name], 30)
            await asyncio.sleep(rng.uniform(1, 2))
            healed = time.time()
            lab.failing.discard(index)
            resolved = await lab.wait_for(name, "resolved", counts[name], 30)
            if fired is None or resolved is None:
                missed += 1
                return
            detect.append(fired - started)
            recover.append(resolved - healed)
            await asyncio.sleep(rng.uniform(1, 2))

        async def worker(index: int, rounds: int) -> None:
            for _ in range(rounds):
                await one_outage(index)

        per_monitor = -(-outages // monitors)
        await asyncio.gather(*(worker(i, per_monitor) for i in range(monitors)))
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()
        await runner.cleanup()
    detect_bound = INTERVAL * CONFIRM + TIMEOUT + 1
    recover_bound = INTERVAL * RECOVER + TIMEOUT + 1
    return {
        "outages": len(detect) + missed,
        "missed": missed,
        "detect_p50_s": round(statistics.median(detect), 3),
        "detect_p99_s": round(_percentile(detect, 99), 3),
        "detect_max_s": round(max(detect), 3),
        "detect_bound_s": detect_bound,
        "detect_within_bound": sum(d <= detect_bound for d in detect),
        "recover_p50_s": round(statistics.median(recover), 3),
        "recover_p99_s": round(_percentile(recover, 99), 3),
        "recover_bound_s": recover_bound,
        "recover_within_bound": sum(r <= recover_bound for r in recover),
    }


def _percentile(values: list[float], percentile: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * percentile / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outages", type=int, default=40)
    parser.add_argument("--monitors", type=int, default=10)
    args = parser.parse_args()
    figures = asyncio.run(run(args.outages, args.monitors))
    for key, value in figures.items():
        print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
