"""Sentry error events a second on one core: a real ``wk up`` (its web server, ingest and
SQLite store on core 0) takes Sentry envelopes (``POST /api/<id>/envelope/``) from wk
loadtest's lean HTTP/1.1 client on core 1. Baseline, in the same run and on the same core: a
bare aiohttp server that reads each body and answers a small JSON object, the least any
Python ingest endpoint does. (RUM beacons: bench/rum.py.)

Two figures:
- throughput: 64 clients in a closed loop for ``--seconds``: events answered a second;
- answer times at a fixed arrival rate (open model, ``--rate``, 2,000 events/s by default):
  p50 / p99 from each request's intended send time, and how many failed.
Afterwards the store is read: every accepted event must be counted there (stored vs answered).
Every event is distinct (its own event id), so none is dropped as a duplicate; they fall into
``--issues`` issues (50 by default), each a Python SDK-like event of ~3 KB with an in-app stack
of six frames, sent uncompressed.

    python bench/error_ingest.py [--seconds 10] [--rate 2000] [--issues 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _support import free_port

KEY = "0123456789abcdef0123456789abcdef"
CLIENTS = 64
WK = [sys.executable, "-m", "watchkeeper"]


def _event(index: int, issues: int) -> dict[str, Any]:
    """A Python SDK-like error event: one of ``issues`` bugs, an in-app stack of 6 frames."""
    bug = index % issues
    frames = [
        {
            "filename": f"app/views/module{bug}_{depth}.py",
            "module": f"app.views.module{bug}_{depth}",
            "function": f"handler_{depth}",
            "lineno": 10 + depth,
            "in_app": True,
            "context_line": f"    result = step_{depth}(request)",
            "pre_context": ["def handler(request):", "    data = load(request)"],
            "post_context": ["    return result"],
        }
        for depth in range(6)
    ]
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "release": "shop@1.4.2",
        "environment": "production",
        "server_name": "web-1",
        "user": {"id": str(index % 997)},
        "tags": {"route": f"/checkout/{bug % 7}"},
        "exception": {
            "values": [
                {
                    "type": f"ValueError{bug}",
                    "value": f"bad quantity {index} for item {index * 7}",
                    "module": "builtins",
                    "stacktrace": {"frames": frames},
                }
            ]
        },
        "breadcrumbs": {
            "values": [
                {"timestamp": time.time(), "category": "query", "message": "SELECT 1"}
                for _ in range(5)
            ]
        },
        "sdk": {"name": "sentry.python", "version": "2.0.0"},
    }


def envelope(index: int, issues: int) -> bytes:
    event = _event(index, issues)
    head = json.dumps({"event_id": event["event_id"], "sent_at": "2026-12-05T00:00:00Z"})
    body = json.dumps(event).encode()
    item = json.dumps({"type": "event", "length": len(body)})
    return head.encode() + b"\n" + item.encode() + b"\n" + body + b"\n"


def requests(port: int, count: int, issues: int, project: int) -> list[bytes]:
    """``count`` ready HTTP/1.1 requests, each a new event."""
    host = f"127.0.0.1:{port}"
    out = []
    for index in range(count):
        body = envelope(index, issues)
        head = (
            f"POST /api/{project}/envelope/ HTTP/1.1\r\nHost: {host}\r\n"
            f"X-Sentry-Auth: Sentry sentry_key={KEY}, sentry_version=7\r\n"
            "Content-Type: application/x-sentry-envelope\r\n"
        )
        out.append(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return out


async def load(
    port: int, prepared: list[bytes], *, clients: int, seconds: float, rate: float | None
) -> dict[str, Any]:
    from watchkeeper.loadtest.generator import Generator, Settings
    from watchkeeper.loadtest.plan import Profile, Stage
    from watchkeeper.loadtest.target import Endpoint, Target

    target = Target(Endpoint("http", "127.0.0.1", port), ["ingest"], [[prepared[0]]], [1.0])
    target.schedule = [(0, request) for request in prepared]
    generator = Generator(target, Settings(connections=clients, timeout=10.0))
    if rate is None:
        tally = await generator.run_closed(clients, seconds)
    else:
        tally = await generator.run_open(Profile((Stage(rate, rate, seconds),)))
    ok = sum(n for status, n in tally.statuses.items() if 200 <= status < 300)
    return {
        "ok": ok,
        "failed": tally.sent - ok,
        "per_s": ok / max(tally.wall_seconds, 1e-9),
        "p50_ms": tally.latency.get_value_at_percentile(50) / 1000,
        "p99_ms": tally.latency.get_value_at_percentile(99) / 1000,
    }


BARE = """
import os, sys
from aiohttp import web
os.sched_setaffinity(0, {0})
async def ingest(request):
    body = await request.read()
    return web.json_response({"id": str(len(body))})
app = web.Application(client_max_size=1 << 20)
app.router.add_post("/api/{project}/envelope/", ingest)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def _wait(port: int) -> None:
    import socket

    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answers on port {port}")


def measure(port: int, args: argparse.Namespace, project: int) -> dict[str, Any]:
    """Warm-up, the closed run, the open run; every request a new event."""
    enough = int(max(20_000, 6_000 * args.seconds))  # more than one core answers
    prepared = requests(
        port, 500 + enough + int(args.rate * args.seconds) + 100, args.issues, project
    )
    warm, closed, opened = prepared[:500], prepared[500 : 500 + enough], prepared[500 + enough :]
    asyncio.run(load(port, warm, clients=8, seconds=1.0, rate=None))
    throughput = asyncio.run(load(port, closed, clients=CLIENTS, seconds=args.seconds, rate=None))
    timed = asyncio.run(load(port, opened, clients=CLIENTS, seconds=args.seconds, rate=args.rate))
    return {"throughput": throughput, "at_rate": timed}


def bare(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", BARE, str(port)])
    try:
        _wait(port)
        return measure(port, args, project=1)
    finally:
        server.terminate()
        server.wait(10)


def watchkeeper(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="wk-error-ingest-"))
    port = free_port()
    config = folder / "wk.yaml"
    config.write_text(
        f"storage: sqlite:///wk.db\nserver: {{listen: 127.0.0.1:{port}}}\n"
        # the limit lifted: this measures the ingest path, not the 429s past it
        f"projects:\n  - {{name: shop, key: '{KEY}', rate_limit: 10000000/s}}\n"
        "monitors: []\n"
    )
    server = subprocess.Popen(
        ["taskset", "-c", "0", *WK, "up", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=folder,
    )
    try:
        _wait(port)
        time.sleep(1.0)
        project = _project_id(config, folder)
        figures = measure(port, args, project)
        time.sleep(3.0)  # the batched writer flushes
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    figures["stored"] = stored(config)
    figures["answered"] = figures["throughput"]["ok"] + figures["at_rate"]["ok"]
    return figures


def _project_id(config: Path, folder: Path) -> int:
    out = subprocess.run(
        [*WK, "project", "list", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        cwd=folder,
        check=True,
    ).stdout
    return int(next(p["id"] for p in json.loads(out) if p["name"] == "shop"))


def stored(config: Path) -> int:
    """Events counted in the store's issues (the warm-up's included)."""
    import sqlalchemy as sa

    from watchkeeper.config import load_config
    from watchkeeper.store import Store

    loaded = load_config(config)
    store = Store.open(loaded.storage, existing=True)
    try:
        with store.read() as connection:
            query = "SELECT COALESCE(SUM(count), 0) FROM error_issues"
            return int(connection.scalar(sa.text(query)) or 0)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--issues", type=int, default=50)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    base = bare(args)
    ours = watchkeeper(args)
    print(
        json.dumps(
            {
                "events_per_s": {
                    "watchkeeper": round(ours["throughput"]["per_s"]),
                    "bare_aiohttp": round(base["throughput"]["per_s"]),
                    "ratio": round(ours["throughput"]["per_s"] / base["throughput"]["per_s"], 2),
                    "watchkeeper_p99_ms": round(ours["throughput"]["p99_ms"], 1),
                    "bare_p99_ms": round(base["throughput"]["p99_ms"], 1),
                },
                f"at_{args.rate:.0f}_per_s": {
                    "watchkeeper_p50_ms": round(ours["at_rate"]["p50_ms"], 2),
                    "watchkeeper_p99_ms": round(ours["at_rate"]["p99_ms"], 2),
                    "bare_p50_ms": round(base["at_rate"]["p50_ms"], 2),
                    "bare_p99_ms": round(base["at_rate"]["p99_ms"], 2),
                    "watchkeeper_failed": ours["at_rate"]["failed"],
                },
                "answered": ours["answered"],
                "stored_incl_warmup": ours["stored"],
                "failed_closed": ours["throughput"]["failed"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
