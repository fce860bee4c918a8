"""What a restore drill costs beyond the restore tool itself, on a dump of a 1 GB database.

    python bench/drill_overhead.py [--gb 1.0] [--runs 3] [--jobs 2] [--keep DIR]
                                   [--into cluster|URL]

Makes a database of about ``--gb`` GB on the machine's PostgreSQL (an events table with a
primary key and a secondary index, and a small customers table), dumps it with
``pg_dump -Fc`` (kept in ``--keep`` to be reused by the next run), then alternates, ``--runs``
times each:

    A  the bare tool: pg_restore -j JOBS --no-owner --no-privileges into a fresh private
       cluster with the drill's own settings (initdb and start not timed): the yardstick
    B  the whole drill of the same file: cluster made, restored, counted, verified (tables,
       a query, amcheck on every B-tree index), removed

and prints the medians, B's steps, and the overhead (B − A) / A: what Watchkeeper adds to
prove the restore, relative to the restore itself. RTO and RPO of the drill are printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from watchkeeper.backup import ledger  # noqa: E402
from watchkeeper.backup.drill import drill  # noqa: E402
from watchkeeper.backup.scratch_postgres import PostgresCluster, pg_tool  # noqa: E402
from watchkeeper.backup.settings import BackupSpec, DrillSpec  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432/"


class File:
    def __init__(self, path: Path) -> None:
        stat = path.stat()
        self.path, self.name, self.size, self.mtime = (
            str(path),
            path.name,
            stat.st_size,
            stat.st_mtime,
        )


def psql(database: str, sql: str) -> str:
    return subprocess.run(
        ["psql", "-X", "-q", "-At", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def make_dump(folder: Path, gb: float) -> Path:
    dump = folder / f"events-{gb:g}gb.dump"
    if dump.exists():
        print(f"reusing {dump} ({dump.stat().st_size / 1e6:,.0f} MB)")
        return dump
    name = "wk_bench_drill"
    psql("postgres", f"drop database if exists {name}")
    psql("postgres", f"create database {name}")
    rows = int(gb * 1e9 / 150)  # ~150 bytes a row with its share of the indexes
    started = time.perf_counter()
    psql(
        name,
        "create table events (id bigint primary key, at timestamptz not null, "
        "user_id int not null, kind text not null, payload text not null);"
        f"insert into events select g, now() - g * interval '1 second', g % 100000, "
        f"(array['view','click','buy','refund'])[1 + g % 4], md5(g::text) || md5((g * 7)::text) "
        f"from generate_series(1, {rows}) g;"
        "create index events_user on events (user_id, at);"
        "create table customers (id int primary key, name text);"
        "insert into customers select g, 'customer ' || g from generate_series(1, 100000) g;",
    )
    size = int(psql(name, f"select pg_database_size('{name}')"))
    print(
        f"made {name}: {rows:,} events, {size / 1e9:.2f} GB in {time.perf_counter() - started:.0f}s"
    )
    started = time.perf_counter()
    subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-Fc", "-f", str(dump), name], check=True
    )
    print(
        f"pg_dump -Fc: {dump.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - started:.0f}s"
    )
    psql("postgres", f"drop database {name}")
    return dump


async def bare_restore(dump: Path, jobs: int, workdir: str) -> float:
    """pg_restore alone, into a cluster made (untimed) exactly as a drill makes one."""
    entry = ledger.open_entry("bench")
    cluster = PostgresCluster(entry, workdir)
    try:
        await cluster.create(time.monotonic() + 120)
        argv = [
            pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
            "-j", str(jobs), "-d", cluster.conninfo(cluster.name), str(dump),
        ]  # fmt: skip
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(*argv, env=cluster.env())
        code = await process.wait()
        elapsed = time.perf_counter() - started
        if code != 0:
            raise SystemExit(f"pg_restore failed ({code})")
        return elapsed
    finally:
        await cluster.drop()
        entry.close()


async def whole_drill(dump: Path, jobs: int, into: str, workdir: str) -> dict[str, object]:
    spec = BackupSpec(
        path=str(dump),
        drill=DrillSpec(
            into=into,
            jobs=jobs,
            workdir=workdir,
            tables=["events", "customers"],
            verify=["select count(*) > 0 from events"],
            timeout="2h",
            every="7d",
        ),
    )
    record = await drill("bench", spec, file=File(dump))
    if not record.ok:
        raise SystemExit(f"the drill failed: {record.failures}")
    body = record.as_json()
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", default=os.path.join(tempfile.gettempdir(), "wk-bench-drill"))
    parser.add_argument("--into", default="cluster")
    args = parser.parse_args()
    folder = Path(args.keep)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    os.environ.setdefault("WATCHKEEPER_STATE", str(folder / "state"))
    dump = make_dump(folder, args.gb)
    workdir = str(folder)
    bare: list[float] = []
    drills: list[dict[str, object]] = []
    for run in range(args.runs):
        bare.append(asyncio.run(bare_restore(dump, args.jobs, workdir)))
        drills.append(asyncio.run(whole_drill(dump, args.jobs, args.into, workdir)))
        timings = drills[-1]["timings"]
        assert isinstance(timings, dict)
        print(f"run {run + 1}: pg_restore {bare[-1]:.1f}s, drill {timings['total']:.1f}s {timings}")
    totals = [float(d["timings"]["total"]) for d in drills]  # type: ignore[index]
    restores = [float(d["timings"]["restore"]) for d in drills]  # type: ignore[index]
    a, b = statistics.median(bare), statistics.median(totals)
    print()
    print(f"dump {dump.stat().st_size / 1e6:,.0f} MB, pg_restore -j {args.jobs}, into {args.into}")
    print(
        f"A bare pg_restore          median {a:7.1f}s  (min {min(bare):.1f}, max {max(bare):.1f})"
    )
    print(
        f"B whole drill              median {b:7.1f}s  "
        f"(min {min(totals):.1f}, max {max(totals):.1f})"
    )
    print(f"  of which its pg_restore  median {statistics.median(restores):7.1f}s")
    steps = {k for d in drills for k in d["timings"]}  # type: ignore[attr-defined]
    for step in sorted(steps):
        values = [float(d["timings"].get(step, 0.0)) for d in drills]  # type: ignore[attr-defined]
        print(f"  {step:<24} median {statistics.median(values):7.2f}s")
    print(f"overhead (B - A) / A       {(b - a) / a:+.1%}")
    last = drills[-1]
    print(f"RTO {last['rto_s']}s, RPO {last['rpo_s']}s; counts {last['counts']}")


if __name__ == "__main__":
    main()
