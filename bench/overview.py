"""The overview at fleet size: 10,000 monitors, each checked once against a local target and
given half an hour of latency history (so every row has its sparkline), then the overview
and what the page polls for live updates are timed and weighed.

    python bench/overview.py [--monitors 10000] [--requests 30] [--before /path/to/old/src]

``--before`` measures another checkout in the same run first (a server started with that
``src`` first on its path, then one with this one), and prints this checkout's figures as
ratios against it. Each server's ``/healthz`` is the baseline measured beside it.

Per server, from a client on the same machine over real HTTP (loopback) with a bearer token
(the server is pinned to core 0, the client and the target to core 1), two times: ``p50``/
``p95`` from request to last byte as the client sees them, and ``server_p50`` from the
request reaching the app (outside every middleware, compression included) to its last byte
sent, measured in the server process:
- ``overview``: ``GET /`` without compression (``Accept-Encoding: identity``);
- ``overview_gzip``: the same as a browser asks for it (``gzip``): the server compresses
  (Starlette's GZipMiddleware, level 5, bodies of 4 KiB and more), bytes are as sent;
- ``search``: ``GET /?q=NAME`` for a monitor far down the list;
- ``live``: what an open overview fetches every 5 s for its live updates, gzip as above
  (``/api/v1/states`` where the page polls it, ``/overview/rows`` where it exists).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import pin, target_server

HERE = Path(__file__).resolve()
SRC = HERE.parents[1] / "src"
TIMES = "/__bench/times"


class Timed:
    """ASGI wrapper: how long the app took over each request (by path and query), kept in
    memory and answered as JSON at ``TIMES`` (then forgotten)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: dict[str, list[float]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == TIMES:
            body = json.dumps(self.times).encode()
            self.times = {}
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        query = scope["query_string"].decode()
        key = scope["path"] + (f"?{query}" if query else "")
        started = time.perf_counter()
        await self.app(scope, receive, send)
        self.times.setdefault(key, []).append((time.perf_counter() - started) * 1000)


def serve(monitors: int, target_port: int, folder: str) -> None:
    """The server process: engine, app, uvicorn; prints ``{"port", "token"}`` when every
    monitor has been checked and has its history."""
    pin(0)

    async def main() -> None:
        from watchkeeper.auth import Auth
        from watchkeeper.config import parse_config
        from watchkeeper.engine.service import Engine
        from watchkeeper.model import Phases, Result
        from watchkeeper.store import Store
        from watchkeeper.web.app import create_app
        from watchkeeper.web.server import WebServer

        lines = ["defaults: {interval: 10m, timeout: 10s, confirm: 1}", "monitors:"]
        for i in range(monitors):
            failing = ", expect: ['status == 201']" if i % 97 == 0 else ""  # about 1 % down
            lines.append(
                f"  - {{name: svc-{i:05d}, http: 'http://127.0.0.1:{target_port}/health?m={i}', "
                f"tags: [team-{i % 8}]{failing}}}"
            )
        config = parse_config("\n".join(lines), f"{folder}/wk.yaml", env={})
        store = Store.open(f"sqlite:///{folder}/wk.db")
        engine = Engine(config, store, startup_spread=20.0)
        await engine.start()
        now = time.time()
        for i in range(monitors):  # half an hour of checks a minute apart: the sparklines
            name = f"svc-{i:05d}"
            for minute in range(30, 0, -1):
                total = 0.02 + (i % 50) / 1000 + (minute % 7) / 500
                engine.ledger.record(
                    Result(name, "http", now - minute * 60, True, Phases(total=total))
                )
        auth = Auth(store)
        auth.add_user("bench", "bench password", "admin")
        _, token = auth.create_token("bench", "read")
        server = WebServer(Timed(create_app(engine, auth=auth)), "127.0.0.1", 0)  # type: ignore[arg-type]
        await server.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            checked = sum(1 for s in engine.status.values() if s.last_result is not None)
            if checked >= monitors:
                break
            await asyncio.sleep(0.5)
        print(json.dumps({"port": server.port, "token": token, "checked": checked}), flush=True)
        await asyncio.Event().wait()  # serve until terminated

    import uvloop

    uvloop.run(main())  # as wk up runs


async def timed(
    session: Any, path: str, count: int, encoding: str = "gzip"
) -> tuple[list[float], int]:
    """Request times (ms, to the last byte) and the size of the body as sent."""
    times, size = [], 0
    for _ in range(count):
        started = time.perf_counter()
        async with session.get(
            path, headers={"Accept-Encoding": encoding}, auto_decompress=False
        ) as answer:
            body = await answer.read()
            assert answer.status == 200, (path, answer.status, body[:200])
        times.append((time.perf_counter() - started) * 1000)
        size = len(body)
    return times, size


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
    }


async def measure(port: int, token: str, monitors: int, requests: int) -> dict[str, Any]:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", headers=headers) as session:
        await timed(session, "/", 3)  # warm up (the rows drawn once)
        async with session.get("/overview/rows") as probe:
            live_path = "/overview/rows" if probe.status == 200 else "/api/v1/states"
        figures: dict[str, Any] = {}
        paths = {
            "healthz": ("/healthz", "identity"),
            "overview": ("/", "identity"),
            "overview_gzip": ("/", "gzip"),
            "search": (f"/?q=svc-{monitors - 1:05d}", "gzip"),
            "live": (live_path, "gzip"),
        }
        for name, (path, encoding) in paths.items():
            async with session.get(TIMES) as answer:  # forget the earlier requests
                await answer.read()
            times, size = await timed(session, path, requests, encoding)
            async with session.get(TIMES) as answer:
                inside = (await answer.json(content_type=None)).get(path, [0.0])
            figures[name] = {
                **summary(times),
                "server_p50": round(statistics.median(inside), 2),
                "bytes": size,
            }
        figures["live"]["path"] = live_path
    base = figures["healthz"]["p50"]
    for name in paths:
        if name != "healthz":
            figures[name]["p50_vs_healthz"] = round(figures[name]["p50"] / base, 1)
    return figures


def run_server(src: Path, monitors: int, target_port: int, requests: int) -> dict[str, Any]:
    """One checkout's server in its own process (``src`` first on its path), measured."""
    folder = tempfile.mkdtemp(prefix="wk-overview-")
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, str(HERE), "--serve", "--monitors", str(monitors)]
    command += ["--target-port", str(target_port), "--folder", folder]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        figures = asyncio.run(measure(ready["port"], ready["token"], monitors, requests))
        figures["checked"] = ready["checked"]
        return figures
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--before", type=Path, help="the src folder of the checkout to beat")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.monitors, args.target_port, args.folder)
        return
    report: dict[str, Any] = {"monitors": args.monitors, "requests": args.requests}
    with target_server(cpu=1) as port:
        pin(1)
        if args.before is not None:
            report["before"] = run_server(args.before, args.monitors, port, args.requests)
        report["after"] = run_server(SRC, args.monitors, port, args.requests)
    if "before" in report:
        before, after = report["before"], report["after"]
        report["after_vs_before"] = {
            name: {
                "p50": round(after[name]["p50"] / before[name]["p50"], 3),
                "server_p50": round(after[name]["server_p50"] / before[name]["server_p50"], 3),
                "bytes": round(after[name]["bytes"] / before[name]["bytes"], 4),
            }
            for name in ("overview", "overview_gzip", "search", "live")
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
