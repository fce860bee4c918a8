"""Real-user monitoring beacons per second on one core: a real ``wk up`` process (its web
server, collector and SQLite store on core 0) takes web-vitals batches from 64 concurrent
clients (core 1, wk loadtest's lean HTTP/1.1 client in the closed model) for a while.

A beacon is one metric report (LCP, INP, CLS, FCP or TTFB of one page view); browsers send
them in batches, one POST per page view as it is hidden (the loader's batching), so each POST
here carries the five of one page view, every metric id new (no duplicates). Baseline, in the
same run against the same server: ``GET /rum.js`` answered 304 (the same plain-ASGI path
with no body to read or parse: the server's floor per request). Target: ≥ 10,000 beacons/s.

    python bench/rum.py [--seconds 10] [--clients 64] [--per-post 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import watchkeeper.loadtest.target as targets
from watchkeeper.loadtest.generator import Generator, Settings, Tally
from watchkeeper.loadtest.target import Target, parse_endpoint

VARIANTS = 60_000
"""Distinct batches sent in turn (each POST's metric ids are new within a run)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def batch(view: int, per_post: int, rng: random.Random) -> str:
    pages = ["/", "/product/17", "/product/42", "/checkout/cart", "/docs/a/b", "/about"]
    page = rng.choice(pages)
    device = rng.choice(["mobile", "desktop", "tablet"])
    metrics: list[dict[str, Any]] = []
    for index, name in enumerate(["LCP", "FCP", "TTFB", "CLS", "INP"][:per_post]):
        value = (
            rng.lognormvariate(0, 0.5)
            * {"LCP": 2000, "FCP": 1200, "TTFB": 400, "CLS": 0.05, "INP": 150}[name]
        )
        attribution = {
            "target": "main>img.hero",
            "url": "https://cdn.example.com/hero.jpg",
            "timeToFirstByte": 120.5,
            "resourceLoadDelay": 40.2,
            "resourceLoadDuration": 800.1,
            "elementRenderDelay": 20.0,
        }
        metrics.append(
            {
                "id": f"v5-{view}-{index}",
                "name": name,
                "value": round(value, 3),
                "delta": round(value, 3),
                "rating": "good",
                "navigationType": "navigate",
                "page": page,
                "device": device,
                "attribution": attribution if name == "LCP" else {},
            }
        )
    return json.dumps({"view": f"{view:016x}", "metrics": metrics}, separators=(",", ":"))


def beacon_target(url: str, per_post: int) -> Target:
    endpoint, path = parse_endpoint(url)
    rng = random.Random(5)
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.example.com"}
    forms = [
        targets._render("POST", path, endpoint, headers, batch(view, per_post, rng))
        for view in range(VARIANTS)
    ]
    targets.SCHEDULE = VARIANTS  # every batch once before any repeats (bench only)
    target = Target(endpoint, [path], [forms], [1.0])
    target.schedule = [(0, form) for form in forms]
    return target


def floor_target(url: str, etag: str) -> Target:
    endpoint, path = parse_endpoint(url)
    request = targets._render("GET", path, endpoint, {"If-None-Match": etag}, None)
    return Target(endpoint, [path], [[request]], [1.0])


async def hammer(target: Target, clients: int, seconds: float) -> Tally:
    generator = Generator(target, Settings(connections=clients, timeout=10.0))
    return await generator.run_closed(clients, seconds)


def quantile(tally: Tally, q: float) -> float:
    return round(tally.service.get_value_at_percentile(q) / 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--per-post", type=int, default=5, choices=range(1, 6))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="wk-rum-"))
    port = free_port()
    config = folder / "wk.yaml"
    config.write_text(
        f"storage: sqlite:///wk.db\nserver: {{listen: 127.0.0.1:{port}}}\n"
        "rum:\n  origins: ['https://shop.example.com']\n"
        "  pages: [{name: home, pattern: /}, {name: product, pattern: '/product/*'},\n"
        "          {name: checkout, pattern: '/checkout/**'}, {name: docs, pattern: '/docs/**'}]\n"
        # one client address sends everything here: its limit lifted
        "  burst: 1000000\n  rate: 1000000\n"
    )
    server = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "watchkeeper", "up", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=folder,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        os.sched_setaffinity(0, {1})
        import urllib.request

        with urllib.request.urlopen(base + "/rum.js", timeout=10) as answer:
            etag = answer.headers["ETag"]
        beacons = beacon_target(base + "/rum", args.per_post)
        floor = floor_target(base + "/rum.js", etag)
        asyncio.run(hammer(floor, 8, 1.0))  # warm up
        started = time.perf_counter()
        floor_tally = asyncio.run(hammer(floor, args.clients, args.seconds))
        floor_elapsed = time.perf_counter() - started
        started = time.perf_counter()
        tally = asyncio.run(hammer(beacons, args.clients, args.seconds))
        elapsed = time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    accepted = sum(n for status, n in tally.statuses.items() if status == 202)
    floor_ok = sum(n for status, n in floor_tally.statuses.items() if status == 304)
    import sqlalchemy as sa

    from watchkeeper.store import Store, schema

    store = Store.open(f"sqlite:///{folder / 'wk.db'}", existing=True)
    try:
        with store.read() as connection:
            stored = int(
                connection.scalar(sa.select(sa.func.sum(schema.rum_minutes.c.samples))) or 0
            )
            rows = int(
                connection.scalar(sa.select(sa.func.count()).select_from(schema.rum_minutes)) or 0
            )
    finally:
        store.close()
    posts_per_s = accepted / elapsed
    floor_per_s = floor_ok / floor_elapsed
    print(
        json.dumps(
            {
                "clients": args.clients,
                "metrics_per_post": args.per_post,
                "seconds": round(elapsed, 2),
                "posts_answered_202": accepted,
                "other_answers": tally.completed - accepted + sum(tally.errors.values()),
                "posts_per_s": round(posts_per_s),
                "beacons_per_s": round(posts_per_s * args.per_post),
                "answer_ms": {"p50": quantile(tally, 50), "p99": quantile(tally, 99)},
                "beacons_stored": stored,
                "tally_rows_stored": rows,
                "floor_304_per_s": round(floor_per_s),
                "floor_answer_ms_p99": quantile(floor_tally, 99),
                "posts_vs_floor": round(posts_per_s / floor_per_s, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
