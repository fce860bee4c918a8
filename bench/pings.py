"""Durable heartbeat pings per second: a real ``wk up`` process (its web server and store on
core 0) receives pings from 64 concurrent clients (core 1, wk loadtest's lean HTTP/1.1
client in the closed model) for a while; every ping is answered
only after it is committed. On SQLite and on the machine's PostgreSQL; the pings the store
took (its newest ping id: the table itself keeps each monitor's newest 1,000) are checked
against the answers. Baseline: Healthchecks' open-source ping handler manages
about 250 pings/s; target ≥ 2,500/s on SQLite.

    python bench/pings.py [--seconds 10] [--clients 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UUID = "11111111-2222-4333-8444-555555555555"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_database() -> str:
    import psycopg

    name = f"wk_bench_pings_{secrets.token_hex(4)}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def hammer(url: str, clients: int, seconds: float) -> tuple[int, int]:
    """``clients`` pingers, each sending the next ping when the last was answered, for
    ``seconds``: (pings answered OK, pings not). The client is wk loadtest's lean HTTP/1.1
    one (closed model): aiohttp's tops out near 2,000 requests/s on one core, below the
    server it would be measuring."""
    from watchkeeper.loadtest.generator import Generator, Settings
    from watchkeeper.loadtest.target import from_url

    generator = Generator(from_url(url), Settings(connections=clients, timeout=10.0))
    tally = await generator.run_closed(clients, seconds)
    ok = sum(n for status, n in tally.statuses.items() if status == 200)
    return ok, tally.completed - ok + sum(tally.errors.values())


def run(storage: str, seconds: float, clients: int) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="wk-pings-"))
    port = free_port()
    config = folder / "wk.yaml"
    config.write_text(
        f"storage: {storage}\nserver: {{listen: 127.0.0.1:{port}}}\nmonitors:\n"
        # the rate limit lifted: this measures the durable path, not the 429s past the limit
        f"  - {{name: job, heartbeat: {{period: 1h, uuid: '{UUID}', ping_burst: 100000,"
        f" ping_rate: 100000}}}}\n"
    )
    wk = [sys.executable, "-m", "watchkeeper"]
    server = subprocess.Popen(
        ["taskset", "-c", "0", *wk, "up", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=folder,
    )
    url = f"http://127.0.0.1:{port}/ping/{UUID}"
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        os.sched_setaffinity(0, {1})
        asyncio.run(hammer(url, 8, 1.0))  # warm up
        started = time.perf_counter()
        ok, failed = asyncio.run(hammer(url, clients, seconds))
        elapsed = time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    import sqlalchemy as sa

    from watchkeeper.config import load_config
    from watchkeeper.store import Store, schema

    loaded = load_config(config)
    store = Store.open(loaded.storage, existing=True)
    try:
        with store.read() as connection:
            stored = int(connection.scalar(sa.select(sa.func.max(schema.pings.c.id))) or 0)
    finally:
        store.close()
    return {
        "storage": storage.split(":")[0],
        "clients": clients,
        "seconds": round(elapsed, 2),
        "answered_ok": ok,
        "failed": failed,
        "stored": stored,
        "pings_per_s": round(ok / elapsed),
        "vs_healthchecks_250": round(ok / elapsed / 250, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    figures = [run("sqlite:///wk.db", args.seconds, args.clients)]
    database = postgres_database()
    try:
        figures.append(
            run(f"postgresql://postgres@127.0.0.1/{database}", args.seconds, args.clients)
        )
    finally:
        drop_database(database)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
