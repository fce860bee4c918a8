"""Ingest rate of the StoreWriter, against plain sqlite3 executemany measured in the same run.

    python bench/store_ingest.py [-n 200000] [--postgres URL | --no-postgres] [--series]

Puts N realistic Results through a StoreWriter into a fresh SQLite file (and into a
throw-away PostgreSQL database, created and dropped on the server of ``--postgres``), then
inserts the same rows, already encoded, with plain sqlite3 ``executemany`` into the same
schema, committing every batch as the writer does. Prints results/s and writer / baseline.
With ``--series`` each http result carries a ``body.size`` series, as a real check's does.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from watchkeeper.model import Phases, Result
from watchkeeper.store import Store, StoreWriter
from watchkeeper.store.codec import RESULT_COLUMNS, result_row

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BATCH = 5000
KINDS = ("http", "http", "http", "tcp", "dns", "tls")


def realistic_results(
    count: int, monitors: int = 500, seed: int = 1, series: bool = False
) -> list[Result]:
    """Checks of ``monitors`` monitors every 30 s: lognormal phases, ~3% failed; with
    ``series`` an http check's ``body.size``."""
    rng = random.Random(seed)
    start = time.time() - count / monitors * 30
    results = []
    for index in range(count):
        monitor = index % monitors
        kind = KINDS[monitor % len(KINDS)]
        dns, connect = rng.lognormvariate(-6.5, 0.6), rng.lognormvariate(-4.5, 0.5)
        tls = rng.lognormvariate(-4, 0.4) if kind in ("http", "tls") else None
        ttfb = rng.lognormvariate(-2.5, 0.8) if kind == "http" else None
        total = dns + connect + (tls or 0.0) + (ttfb or 0.0)
        roll = rng.random()
        failed, errored = roll < 0.02, 0.02 <= roll < 0.03
        results.append(
            Result(
                monitor=f"monitor-{monitor:04d}",
                kind=kind,
                started_at=start + index / monitors * 30,
                ok=not (failed or errored),
                phases=Phases(
                    dns=dns,
                    connect=None if errored else connect,
                    tls=None if errored else tls,
                    ttfb=None if errored else ttfb,
                    transfer=None if errored or ttfb is None else 0.0004,
                    total=None if errored else total,
                ),
                failures=["status == 200", "latency < 500ms"] if failed else [],
                error="connection refused" if errored else None,
                status=(503 if failed else 200) if kind == "http" and not errored else None,
                metrics={"body.size": float(1000 + monitor)}
                if series and kind == "http" and not errored
                else {},
            )
        )
    return results


async def writer_rate(url: str, results: list[Result]) -> float:
    store = Store.open(url)
    try:
        writer = StoreWriter(store, batch_size=BATCH)
        await writer.start()
        started = time.perf_counter()
        for result in results:
            await writer.put(result)
        await writer.aclose()
        elapsed = time.perf_counter() - started
        stored = len(store.last_results(results[-1].monitor, len(results)))
        if writer.written != len(results) or stored != len(results) // 500:
            raise SystemExit(f"lost results: wrote {writer.written}, read back {stored}")
        return len(results) / elapsed
    finally:
        store.close()


def baseline_rate(path: Path, results: list[Result]) -> float:
    """Plain sqlite3: same schema and pragmas, rows already encoded, one commit per batch."""
    store = Store.open(f"sqlite:///{path}")
    ids = store.ensure_monitors(sorted({(r.monitor, r.kind, "") for r in results}))
    store.close()
    rows = [result_row(result, ids[result.monitor]) for result in results]
    sql = (
        f"INSERT INTO results ({', '.join(RESULT_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in RESULT_COLUMNS)})"
    )
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        started = time.perf_counter()
        for first in range(0, len(rows), BATCH):
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(sql, rows[first : first + BATCH])
            connection.execute("COMMIT")
        return len(rows) / (time.perf_counter() - started)
    finally:
        connection.close()


async def postgres_rate(server_url: str, results: list[Result]) -> float:
    server = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"wk_bench_{secrets.token_hex(6)}"
    admin_dsn = (
        f"host={server.host or '127.0.0.1'} port={server.port or 5432} "
        f"user={server.username or 'postgres'} dbname={server.database or 'postgres'}"
    )
    if server.password:
        admin_dsn += f" password={server.password}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        return await writer_rate(url, results)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=200_000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, metavar="URL")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--series", action="store_true", help="http results carry body.size")
    options = parser.parse_args(argv)

    results = realistic_results(options.count, series=options.series)
    print(f"{len(results):,} results, batches of {BATCH}, one commit per batch")
    with tempfile.TemporaryDirectory(prefix="wk-bench-") as directory:
        writer = await writer_rate(f"sqlite:///{Path(directory) / 'writer.db'}", results)
        baseline = baseline_rate(Path(directory) / "baseline.db", results)
    print(f"sqlite     StoreWriter            {writer:>10,.0f} results/s")
    print(f"sqlite     sqlite3 executemany    {baseline:>10,.0f} rows/s  (baseline)")
    print(f"sqlite     writer / baseline      {writer / baseline:>10.2f}")
    if not options.no_postgres:
        postgres = await postgres_rate(options.postgres, results)
        print(f"postgresql StoreWriter            {postgres:>10,.0f} results/s")
        print(f"postgresql writer / sqlite3 base  {postgres / baseline:>10.2f}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
