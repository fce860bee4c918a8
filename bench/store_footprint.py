"""Bytes the store takes per check after one hour of 10,000 http monitors, before and after.

    python bench/store_footprint.py [--old SRC] [-m 10000] [--minutes 60] [--https 0.0]
                                    [--backend sqlite|postgres|both] [--postgres URL]

Synthesizes an hour of checks (every 30 s per monitor: jittered start times, latency phases
around each target's round trip, a mix of failed expectations, timeouts, refused connections
and short outages, and a ``body.size`` series that is constant for most monitors, changes
now and then for some and every check for a few) and pushes them through the real path:
``StoreWriter`` batches, then the upkeep the engine runs every minute (rollups, and on a
store that has it, compaction). On PostgreSQL a plain VACUUM after each simulated minute
stands in for autovacuum, which an hour compressed into minutes would outrun.

Then it measures what the store grew by, per table and index: SQLite's pages in use
(``dbstat``; pages on the freelist are reused, not grown) and the file itself, PostgreSQL's
``pg_total_relation_size``. Each figure is divided by the checks written. It measures twice
more: once the hour is over (the upkeep run once more, after the grace: every tier holds the
hour, the 1-hour rollups too), and once its raw results are past their retention (a prune 14
days later: what is left of the hour are its minutes and hours); the seconds these two
upkeep runs took are shown too.

With ``--old SRC`` the same run is made first with the store of another checkout
(``PYTHONPATH=SRC``, e.g. a worktree of main) in a child process, the two are printed side by
side, and the answers both give through the public Store API (results, summaries, series,
samples, minute counts, states) for a sample of monitors are compared, after the hour and
again once the raw results are gone: they must be identical.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from watchkeeper.model import Phases, Result, State, Transition
from watchkeeper.store import Store, StoreWriter

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
HOUR_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a multiple of 3600
GRACE = 70.0  # what the engine uses with 10 s timeouts: the longest check plus a minute
TIMEOUT = 10.0
SAMPLED = 25  # monitors whose answers are compared
RAW = 14 * 86400.0  # the default raw retention


# -- the workload ---------------------------------------------------------------------------
@dataclasses.dataclass
class Target:
    """One monitored endpoint: how far away it is and how it behaves."""

    offset: float
    rtt: float
    server: float
    https: bool
    body: str  # constant | sometimes | always
    size: int
    outage: tuple[int, int] | None  # checks [first, last) during which it refuses
    flaky: float


def targets(count: int, interval: float, checks: int, https: float, seed: int) -> list[Target]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        roll = rng.random()
        outage = None
        if rng.random() < 0.02:
            first = rng.randrange(checks)
            outage = (first, first + rng.randint(2, 12))
        out.append(
            Target(
                offset=rng.uniform(0, interval),
                rtt=min(max(rng.lognormvariate(math.log(0.02), 0.8), 0.0005), 0.3),
                server=rng.lognormvariate(math.log(0.03), 0.7),
                https=rng.random() < https,
                body="constant" if roll < 0.75 else ("sometimes" if roll < 0.95 else "always"),
                size=int(rng.lognormvariate(math.log(4000), 1.2)) + 2,
                outage=outage,
                flaky=rng.choice((0.0, 0.0, 0.002, 0.01, 0.03)),
            )
        )
    return out


def _ns(seconds: float) -> float:
    """A duration as a clock gives it: whole nanoseconds."""
    return round(seconds * 1e9) / 1e9


def check(name: str, target: Target, index: int, at: float, rng: random.Random) -> Result:
    """The Result of check ``index`` of ``target`` started at ``at``."""
    if target.outage is not None and target.outage[0] <= index < target.outage[1]:
        connect = _ns(rng.uniform(0.0002, 0.002))
        return Result(
            name,
            "http",
            at,
            False,
            Phases(dns=_ns(rng.lognormvariate(math.log(0.0008), 0.5)), total=connect + 0.0011),
            error="connection refused",
        )
    dns = _ns(rng.lognormvariate(math.log(0.0008), 0.5))
    connect = _ns(target.rtt * rng.lognormvariate(0, 0.2))
    tls = _ns(2 * target.rtt * rng.lognormvariate(0, 0.15) + 0.002) if target.https else None
    roll = rng.random()
    if roll < target.flaky * 0.3:  # no answer within the timeout
        return Result(
            name,
            "http",
            at,
            False,
            Phases(dns=dns, connect=connect, tls=tls, total=_ns(TIMEOUT + rng.uniform(0, 0.004))),
            error=f"timeout after {TIMEOUT:g}s while waiting for the response",
        )
    failed = roll < target.flaky
    ttfb = _ns(target.rtt + target.server * rng.lognormvariate(0, 0.5))
    size = 150 if failed else body_size(target, rng)
    transfer = _ns(0.00005 + size / 2e8 * rng.lognormvariate(0, 0.3))
    total = _ns(dns + connect + (tls or 0.0) + ttfb + transfer + rng.uniform(0.0001, 0.0005))
    slow = not failed and total > 0.5
    failures = ["status == 200"] if failed else (["latency < 500ms"] if slow else [])
    metrics = {"body.size": float(size)}
    if target.https:
        expires = 60 * 86400.0 - (at - HOUR_START) + target.offset * 1000
        metrics.update({"cert.expires_in": expires, "cert.lifetime": 90 * 86400.0})
    return Result(
        name,
        "http",
        at,
        not failures,
        Phases(dns=dns, connect=connect, tls=tls, ttfb=ttfb, transfer=transfer, total=total),
        failures=failures,
        status=503 if failed else 200,
        metrics=metrics,
    )


def body_size(target: Target, rng: random.Random) -> int:
    if target.body == "always":
        return target.size + rng.randint(-200, 200)
    if target.body == "sometimes" and rng.random() < 0.05:
        target.size += rng.choice((-64, -8, 8, 64))
    return target.size


def minute_of_checks(
    fleet: list[Target], minute: int, interval: float, rngs: list[random.Random]
) -> Iterator[tuple[Result, list[Transition]]]:
    """Every check started in ``minute`` (from the hour's start), with the transitions a
    refusing target causes, in start order."""
    start, end = minute * 60.0, (minute + 1) * 60.0
    due = []
    for number, target in enumerate(fleet):
        first = math.ceil((start - target.offset) / interval)
        for index in range(max(first, 0), math.ceil((end - target.offset) / interval)):
            due.append((target.offset + index * interval, number, index))
    due.sort()
    for offset, number, index in due:
        rng = rngs[number]
        jitter = abs(rng.gauss(0, 0.0015)) + (rng.uniform(0.02, 0.08) if rng.random() < 0.01 else 0)
        at = round((HOUR_START + offset + jitter) * 1e9) / 1e9  # as time.time() gives it
        target = fleet[number]
        name = f"web-{number:05d}"
        transitions = []
        if target.outage is not None:
            if index == target.outage[0]:
                transitions = [Transition(name, at, State.UP, State.DOWN, "connection refused")]
            elif index == target.outage[1]:
                transitions = [Transition(name, at, State.DOWN, State.UP, None)]
        yield check(name, target, index, at, rng), transitions


# -- one run --------------------------------------------------------------------------------
async def run(url: str, monitors: int, minutes: int, https: float) -> dict[str, Any]:
    interval = 30.0
    fleet = targets(monitors, interval, int(minutes * 60 / interval) + 1, https, seed=14)
    rngs = [random.Random(1000 + number) for number in range(monitors)]
    store = Store.open(url)
    engine = sa.create_engine(url)
    try:
        store.ensure_monitors(
            (f"web-{n:05d}", "http", f"http://web-{n:05d}.test/") for n in range(monitors)
        )
        empty = measure(engine)
        writer = StoreWriter(store)
        await writer.start()
        checks = 0
        started = time.perf_counter()
        upkeep = 0.0
        for minute in range(minutes):
            for result, transitions in minute_of_checks(fleet, minute, interval, rngs):
                await writer.put(result, transitions)
                checks += 1
            await writer.flush()
            now = HOUR_START + (minute + 1) * 60.0
            began = time.perf_counter()
            upkeep_once(store, now)
            upkeep += time.perf_counter() - began
            if engine.dialect.name == "postgresql":
                vacuum(engine)
        await writer.aclose()
        elapsed = time.perf_counter() - started
        grown = measure(engine)
        answers = collect_answers(store, monitors, minutes)
        end = HOUR_START + minutes * 60.0
        began = time.perf_counter()
        upkeep_once(store, end + GRACE)  # the hour is over: every tier holds it
        closing = time.perf_counter() - began
        if engine.dialect.name == "postgresql":
            vacuum(engine)
        closed = measure(engine)
        began = time.perf_counter()
        store.prune(end + RAW, raw=RAW, minute=90 * 86400.0, hour=3 * 365 * 86400.0)
        pruning = time.perf_counter() - began
        if engine.dialect.name == "postgresql":
            vacuum(engine)
        expired = measure(engine)
        expired_answers = collect_answers(store, monitors, minutes)
    finally:
        store.close()
        engine.dispose()
    return {
        "checks": checks,
        "seconds": elapsed,
        "upkeep_seconds": upkeep,
        "closing_seconds": closing,
        "prune_seconds": pruning,
        "empty": empty,
        "grown": grown,
        "closed": closed,
        "expired": expired,
        "answers": answers,
        "expired_answers": expired_answers,
    }


def upkeep_once(store: Store, now: float) -> None:
    """What the engine runs every minute: rollups, and on a store that has it, compaction."""
    store.rollup(now, grace=GRACE)
    compact = getattr(store, "compact", None)
    if compact is not None:
        compact(now, grace=GRACE)


def vacuum(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM")


def measure(engine: sa.Engine) -> dict[str, Any]:
    """Bytes per table and index, and the whole store."""
    if engine.dialect.name == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            page = int(connection.exec_driver_sql("PRAGMA page_size").scalar_one())
            pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())
            free = int(connection.exec_driver_sql("PRAGMA freelist_count").scalar_one())
            parts = {
                str(name): int(size)
                for name, size in connection.exec_driver_sql(
                    "SELECT name, sum(pgsize) FROM dbstat GROUP BY name"
                )
            }
        return {"parts": parts, "in_use": (pages - free) * page, "file": pages * page}
    with engine.connect() as connection:
        parts = {
            str(name): int(size)
            for name, size in connection.exec_driver_sql(
                "SELECT c.relname, pg_total_relation_size(c.oid) - "
                "  coalesce((SELECT sum(pg_relation_size(i.indexrelid)) FROM pg_index i "
                "            WHERE i.indrelid = c.oid), 0) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'r' "
                "UNION ALL "
                "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'i'"
            )
        }
    total = sum(parts.values())
    return {"parts": parts, "in_use": total, "file": total}


# -- the answers both stores must give alike --------------------------------------------------
def collect_answers(store: Store, monitors: int, minutes: int) -> dict[str, str]:
    """A digest of each public query's answer for a sample of monitors."""
    start, end = HOUR_START, HOUR_START + minutes * 60.0 + 60
    names = [f"web-{n:05d}" for n in range(0, monitors, max(monitors // SAMPLED, 1))]
    answers: dict[str, Any] = {}
    for name in names:
        answers[f"results {name}"] = [r.to_json() for r in store.results(name, start, end, 10**6)]
        answers[f"newest failed {name}"] = [
            r.to_json()
            for r in store.results(name, start, end, 3, failed_only=True, newest_first=True)
        ]
        answers[f"last results {name}"] = [r.to_json() for r in store.last_results(name, 5)]
        answers[f"phase rows {name}"] = store.phase_rows(name, start, end)
        for span in (3600.0, 3 * 86400.0, 40 * 86400.0):
            answers[f"summary {span:g} {name}"] = dataclasses.asdict(
                store.summary(name, end - span, end)
            )
        for resolution in ("raw", "1m", "1h"):
            answers[f"series {resolution} {name}"] = [
                dataclasses.asdict(p) for p in store.series(name, start, end, resolution)
            ]
            answers[f"samples {resolution} {name}"] = [
                dataclasses.asdict(p)
                for p in store.samples(name, "body.size", start, end, resolution)
            ]
        answers[f"newest samples {name}"] = [
            dataclasses.asdict(p)
            for p in store.samples(name, "body.size", start, end, "raw", 7, newest=True)
        ]
        answers[f"sample names {name}"] = [
            dataclasses.asdict(p) for p in store.sample_names(name, start)
        ]
        answers[f"minute counts {name}"] = store.minute_counts(name, start, end, latency=0.2)
        answers[f"first time {name}"] = [
            store.first_time(name, start + 600),
            store.first_time(name, start + 600, "body.size"),
        ]
    answers["transitions"] = [dataclasses.astuple(t) for t in store.transitions(limit=10**6)]
    answers["states"] = {k: dataclasses.astuple(v) for k, v in sorted(store.states().items())}
    latest = store.latest_results()
    answers["latest results"] = {name: latest[name].to_json() for name in names if name in latest}
    return {key: json.loads(json.dumps(value, default=str)) for key, value in answers.items()}


# -- backends and the comparison ---------------------------------------------------------------
async def on_backend(backend: str, options: argparse.Namespace) -> dict[str, Any]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="wk-footprint-") as directory:
            url = f"sqlite:///{Path(directory) / 'watchkeeper.db'}"
            return await run(url, options.monitors, options.minutes, options.https)
    server = make_url(options.postgres).set(drivername="postgresql+psycopg")
    name = f"wk_footprint_{secrets.token_hex(6)}"
    admin = (
        f"host={server.host or '127.0.0.1'} port={server.port or 5432} "
        f"user={server.username or 'postgres'} dbname={server.database or 'postgres'}"
    )
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        return await run(url, options.monitors, options.minutes, options.https)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def child(options: argparse.Namespace, backend: str) -> dict[str, Any]:
    """The same run with the store of ``options.old`` (another checkout's src)."""
    command = [
        sys.executable,
        __file__,
        "--child",
        "--backend",
        backend,
        "-m",
        str(options.monitors),
        "--minutes",
        str(options.minutes),
        "--https",
        str(options.https),
        "--postgres",
        options.postgres,
    ]
    environment = {**os.environ, "PYTHONPATH": options.old}
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the run with {options.old} failed:\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def per_check(report: dict[str, Any], moment: str) -> tuple[dict[str, float], float, float]:
    checks = report["checks"]
    empty, grown = report["empty"], report[moment]
    parts = {
        name: (size - empty["parts"].get(name, 0)) / checks
        for name, size in grown["parts"].items()
        if size - empty["parts"].get(name, 0) > 0
    }
    in_use = (grown["in_use"] - empty["in_use"]) / checks
    file = (grown["file"] - empty["file"]) / checks
    return parts, in_use, file


MOMENTS = {
    "grown": "after the hour",
    "closed": "the hour over (every tier holds it)",
    "expired": "its raw results past their retention",
}


def show(backend: str, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    runs = [("before", before), ("after", after)] if before is not None else [("after", after)]
    print(f"\n{backend}: {after['checks']:,} checks, bytes per check")
    for moment, title in MOMENTS.items():
        figures = {label: per_check(report, moment) for label, report in runs if report is not None}
        names = sorted({name for parts, _, _ in figures.values() for name in parts})
        header = "".join(f"{label:>10}" for label, _ in runs)
        print(f"  {title:<38}{header}")
        for name in names:
            cells = "".join(f"{figures[label][0].get(name, 0.0):>10.1f}" for label, _ in runs)
            print(f"    {name:<36}{cells}")
        in_use = "".join(f"{figures[label][1]:>10.1f}" for label, _ in runs)
        print(f"    {'all, in use':<36}{in_use}")
        if backend == "sqlite":
            file = "".join(f"{figures[label][2]:>10.1f}" for label, _ in runs)
            print(f"    {'all, file (with freelist)':<36}{file}")
        if before is not None:
            ratio = figures["after"][1] / figures["before"][1]
            print(f"    {'after / before (in use)':<36}{ratio:>10.2f}")
    for label, report in runs:
        assert report is not None
        rate = report["checks"] / report["seconds"]
        print(
            f"  {label}: {rate:,.0f} checks/s through writer and upkeep (upkeep "
            f"{report['upkeep_seconds']:.1f} s; at the hour's end {report['closing_seconds']:.1f}"
            f" s; the prune past the raw horizon {report['prune_seconds']:.1f} s)"
        )
    if before is not None:
        for key, title in (("answers", "after the hour"), ("expired_answers", "raw expired")):
            compare(before[key], after[key], title)


def compare(before: dict[str, Any], after: dict[str, Any], title: str) -> None:
    different = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    if different:
        print(f"  {title}: answers DIFFER in {len(different)} queries, e.g. {different[:5]}")
        key = different[0]
        print(f"    before: {str(before.get(key))[:600]}")
        print(f"    after:  {str(after.get(key))[:600]}")
    else:
        print(f"  {title}: answers identical in all {len(after)} queries")


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--monitors", type=int, default=10_000)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--https", type=float, default=0.0, help="share of https monitors")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, metavar="URL")
    parser.add_argument("--old", metavar="SRC", help="src directory of the checkout to compare")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if options.backend == "both" else [options.backend]
    if options.child:
        print(json.dumps(await on_backend(backends[0], options)))
        return
    print(
        f"{options.monitors:,} http monitors every 30 s for {options.minutes} min "
        f"({options.https:.0%} https)"
    )
    for backend in backends:
        before = child(options, backend) if options.old else None
        after = await on_backend(backend, options)
        show(backend, before, after)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
