"""Restore drills against real servers: dumps made here from the machine's PostgreSQL and
MariaDB and from a private redis-server, restored into private clusters, scratch databases
on those servers and throwaway redis-servers, verified, and removed — whatever happens."""

from __future__ import annotations

import asyncio
import gzip
import os
import secrets
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pymysql
import pytest
from tests.helpers.drills import pg_sessions
from tests.helpers.redis_server import PrivateRedis

from watchkeeper.backup import ledger
from watchkeeper.backup.drill import DrillRecord, drill, scratch_servers, sweep
from watchkeeper.backup.settings import BackupSpec, DrillSpec
from watchkeeper.units import format_duration

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
MY = "mysql://root@127.0.0.1:3306/"


@dataclass
class File:
    path: str
    name: str
    size: int
    mtime: float

    @classmethod
    def at(cls, path: Path | str) -> File:
        path = Path(path)
        stat = path.stat()
        size = stat.st_size
        if path.is_dir():
            size = sum(f.stat().st_size for f in path.iterdir())
        return cls(str(path), path.name, size, stat.st_mtime)


def _pg(database: str, sql: str) -> None:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}", autocommit=True) as c:
        c.execute(sql)


def _pg_value(database: str, sql: str) -> object:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}", autocommit=True) as c:
        row = c.execute(sql).fetchone()
        return row[0] if row else None


def _dump(database: str, target: Path, *args: str) -> Path:
    subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", *args, "-f", str(target), database],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A source database (orders: 5,000 rows and an index; customers: 100) and its dumps in
    every format, plus dumps of an empty database and of another one."""
    folder = tmp_path_factory.mktemp("dumps")
    tag = secrets.token_hex(4)
    source, empty, other = f"wk_src_{tag}", f"wk_empty_{tag}", f"wk_other_{tag}"
    for name in (source, empty, other):
        _pg("postgres", f"create database {name}")
    _pg(
        source,
        "create table orders (id serial primary key, note text not null);"
        "insert into orders (note) select 'order ' || g from generate_series(1, 5000) g;"
        "create index orders_note on orders (note);"
        "create table customers (id int primary key);"
        "insert into customers select generate_series(1, 100);",
    )
    _pg(other, "create table invoices (id int primary key); insert into invoices values (1)")
    found = {
        "custom": _dump(source, folder / "shop.dump", "-Fc"),
        "plain": _dump(source, folder / "shop.sql"),
        "create": _dump(source, folder / "shop-create.sql", "-C"),
        "directory": _dump(source, folder / "shop.dir", "-Fd"),
        "tar": _dump(source, folder / "shop.tar", "-Ft"),
        "empty": _dump(empty, folder / "empty.dump", "-Fc"),
        "other": _dump(other, folder / "other.dump", "-Fc"),
    }
    for key, name in (("plain", "shop.sql.gz"), ("tar", "shop.tar.gz")):
        packed = folder / name
        packed.write_bytes(gzip.compress(found[key].read_bytes()))
        found[f"{key}.gz"] = packed
    found["source"] = Path(source)
    yield found
    for name in (source, empty, other):
        _pg("postgres", f"drop database if exists {name} with (force)")


WORKDIR: list[Path] = []


@pytest.fixture(autouse=True)
def _workdir(workdir: Path) -> Iterator[None]:
    WORKDIR.append(workdir)
    yield
    WORKDIR.remove(workdir)


def _spec(path: Path | str, **drill_settings: object) -> BackupSpec:
    drill_settings.setdefault("workdir", str(WORKDIR[-1]))
    return BackupSpec(path=str(path), drill=DrillSpec(**drill_settings))


async def _drill(
    path: Path | str, previous: dict[str, int] | None = None, **kw: object
) -> DrillRecord:
    return await drill("shop backup", _spec(path, **kw), file=File.at(path), previous=previous)


def _scratch_databases() -> list[str]:
    with psycopg.connect(PG, autocommit=True) as c:
        return [
            r[0]
            for r in c.execute("select datname from pg_database where datname like 'wk_drill_%'")
        ]


def _left_behind(record: DrillRecord, workdir: Path) -> list[str]:
    """What of this drill still exists: its folders, its scratch database, its ledger entry."""
    left = [str(p) for p in workdir.glob(f"*{record.id}*")]
    left += [str(p) for p in WORKDIR[-1].glob(f"*{record.id}*")]
    left += [name for name in _scratch_databases() if record.id in name]
    left += [p for p in os.listdir(ledger.folder())] if os.path.isdir(ledger.folder()) else []
    return left


# -- good backups restore and verify --------------------------------------------------------
async def test_a_custom_dump_restores_into_a_private_cluster_and_verifies(
    dumps: dict[str, Path],
) -> None:
    record = await _drill(
        dumps["custom"],
        tables=["orders", "customers"],
        rows={"orders": 5000},
        verify=["select count(*) = 5000 from orders", "select max(id) from customers"],
    )
    assert record.ok, record.failures
    assert record.counts == {"orders": 5000, "customers": 100}
    assert record.target.startswith("private PostgreSQL cluster")
    assert record.rto is not None and record.rto > 0
    assert record.rpo is not None and record.rpo >= 0
    checks = {(c["check"], c["ok"]) for c in record.checks}
    assert ("amcheck", True) in checks and ("verify", True) in checks
    amcheck = next(c["detail"] for c in record.checks if c["check"] == "amcheck")
    assert amcheck.startswith("3 B-tree indexes checked")  # two primary keys and orders_note
    assert _left_behind(record, dumps["custom"].parent) == []


@pytest.mark.parametrize("kind", ["plain.gz", "directory", "tar.gz"])
async def test_every_postgres_format_restores_into_a_scratch_database_on_a_server(
    dumps: dict[str, Path], kind: str
) -> None:
    record = await _drill(dumps[kind], into=PG, tables=["orders"])
    assert record.ok, record.failures
    assert record.counts == {"orders": 5000, "customers": 100}
    assert record.target.startswith("database wk_drill_shop_backup_")
    assert record.backup is not None and record.backup["compression"] == (
        "gzip" if kind.endswith("gz") else "none"
    )
    assert _left_behind(record, dumps[kind].parent) == []


async def test_a_dump_made_with_create_restores_into_the_scratch_database_not_its_source(
    dumps: dict[str, Path],
) -> None:
    """pg_dump -C writes CREATE DATABASE and \\connect: restored as written, it would write
    into the source. The drill turns them into comments and restores into its own."""
    assert "\\connect" in dumps["create"].read_text()
    before = _pg_value(dumps["source"].name, "select count(*) from orders")
    record = await _drill(dumps["create"], into=PG, tables=["orders"])
    assert record.ok, record.failures
    assert record.counts["orders"] == 5000
    assert _pg_value(dumps["source"].name, "select count(*) from orders") == before


# -- bad backups fail with their reason ---------------------------------------------------------
async def test_a_truncated_dump_fails_the_restore(dumps: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.dump"
    data = dumps["custom"].read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    record = await _drill(cut)
    assert not record.ok
    assert record.failures[0].startswith("restore failed: pg_restore exited with 1")
    assert "end of file" in record.failures[0] or "could not read" in record.failures[0]
    assert _left_behind(record, tmp_path) == []


async def test_a_plain_dump_cut_in_its_data_fails(dumps: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.sql"
    text = dumps["plain"].read_bytes()
    cut.write_bytes(text[: text.index(b"\torder 2500\n")])  # in the middle of a row
    record = await _drill(cut)
    assert not record.ok
    assert record.failures[0].startswith("format: ")  # no footer: never restored


async def test_a_plain_dump_cut_between_rows_fails_its_format_check(
    dumps: dict[str, Path], tmp_path: Path
) -> None:
    """psql ends a COPY at the end of its input without a word: cut between two rows, the
    restore "works" with half the rows. The completion footer is checked first."""
    cut = _cut(dumps["plain"], tmp_path / "cut.sql", dumps["plain"].read_bytes().index(b"2500\t"))
    record = await _drill(cut)
    assert not record.ok
    assert record.failures[0].startswith("format: ")
    assert "footer" in record.failures[0] or "complete" in record.failures[0]
    assert "restore" not in record.timings  # not restored at all


async def test_a_dump_cannot_run_psql_backslash_commands(tmp_path: Path) -> None:
    """psql runs the drill's restore restricted: a crafted plain dump's \\! (a shell) or
    \\o (a file) fails the restore instead of running."""
    marker = tmp_path / "ran"
    crafted = tmp_path / "crafted.sql"
    crafted.write_text(
        "create table orders (id int);\n"
        f"\\! touch {marker}\n"
        f"\\o {marker}\n"
        "--\n-- PostgreSQL database dump complete\n--\n"
    )
    record = await _drill(crafted, into=PG)
    assert not record.ok
    assert "backslash commands are restricted" in record.failures[0]
    assert not marker.exists()


async def test_a_dump_cannot_run_mariadb_client_commands(tmp_path: Path) -> None:
    """The mariadb client runs in its sandbox: a crafted dump's system command fails."""
    marker = tmp_path / "ran"
    crafted = tmp_path / "crafted.sql"
    crafted.write_text(
        "-- MariaDB dump 10.19\n"
        "CREATE TABLE orders (id int);\n"
        f"system touch {marker}\n"
        f"\\! touch {marker}\n"
        "-- Dump completed on 2026-12-05 10:00:00\n"
    )
    record = await _drill(crafted, into=MY)
    assert not record.ok
    assert "sandbox" in record.failures[0].lower()
    assert not marker.exists()


async def test_a_corrupt_gzip_fails(dumps: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(dumps["plain.gz"].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    broken = tmp_path / "broken.sql.gz"
    broken.write_bytes(bytes(data))
    record = await _drill(broken, into=PG)
    assert not record.ok
    assert "gzip" in record.failures[0] or "psql" in record.failures[0], record.failures
    assert _left_behind(record, tmp_path) == []


async def test_a_dump_of_the_wrong_database_fails_on_its_tables(dumps: dict[str, Path]) -> None:
    record = await _drill(dumps["other"], tables=["orders", "customers"])
    assert not record.ok
    assert record.failures == [
        "tables: table orders is missing (found: invoices)",
        "tables: table customers is missing (found: invoices)",
    ]


async def test_a_dump_of_an_empty_database_fails(dumps: dict[str, Path]) -> None:
    record = await _drill(dumps["empty"])
    assert not record.ok
    assert record.failures == ["content: the restore holds no tables: the backup is empty"]


async def test_a_failing_verification_query_fails_the_drill(dumps: dict[str, Path]) -> None:
    record = await _drill(
        dumps["custom"],
        verify=["select count(*) > 10000 from orders", "select nope from orders"],
    )
    assert not record.ok
    assert record.failures[0] == ("verify: 'select count(*) > 10000 from orders' returned False")
    assert record.failures[1].startswith(
        "verify: 'select nope from orders' failed: column \"nope\""
    )


async def test_a_verification_query_cannot_write(dumps: dict[str, Path]) -> None:
    record = await _drill(dumps["custom"], verify=["delete from orders returning 1"])
    assert not record.ok
    assert "read-only transaction" in record.failures[0]


async def test_fewer_rows_than_at_the_previous_drill_fail(dumps: dict[str, Path]) -> None:
    record = await _drill(dumps["custom"], previous={"orders": 10_000, "customers": 100})
    assert not record.ok
    assert record.failures == [
        "compare: orders has 5,000 rows, the previous drill 10,000 (50% fewer; tolerance 10%)"
    ]
    assert record.reference == {
        "kind": "previous drill",
        "counts": {"orders": 10_000, "customers": 100},
    }
    within = await _drill(dumps["custom"], previous={"orders": 5_400, "customers": 100})
    assert within.ok, within.failures


async def test_counts_against_the_live_source(dumps: dict[str, Path]) -> None:
    source = f"postgresql://postgres@127.0.0.1:5432/{dumps['source'].name}"
    record = await _drill(dumps["custom"], compare="source", source=source)
    assert record.ok, record.failures
    assert record.reference is not None and record.reference["counts"]["orders"] == 5000
    _pg(dumps["source"].name, "insert into customers select generate_series(1001, 1200)")
    try:
        grown = await _drill(dumps["custom"], compare="source", source=source)
    finally:
        _pg(dumps["source"].name, "delete from customers where id > 1000")
    assert not grown.ok
    assert grown.failures == [
        "compare: customers has 100 rows, the source 300 (67% fewer; tolerance 10%)"
    ]


async def test_counts_against_a_manifest_beside_the_backup(
    dumps: dict[str, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "shop.dump"
    shutil.copy(dumps["custom"], copy)
    missing = await _drill(copy, compare="manifest")
    assert missing.failures == [
        "compare: no manifest: shop.dump.manifest.json is not beside the backup"
    ]
    (tmp_path / "shop.dump.manifest.json").write_text('{"tables": {"orders": 6000}}')
    short = await _drill(copy, compare="manifest")
    assert short.failures == [
        "compare: orders has 5,000 rows, the manifest 6,000 (17% fewer; tolerance 10%)"
    ]


async def test_missed_objectives_are_warnings(dumps: dict[str, Path], tmp_path: Path) -> None:
    old = tmp_path / "old.dump"
    shutil.copy(dumps["custom"], old)
    week_ago = time.time() - 7 * 86400
    os.utime(old, (week_ago, week_ago))
    record = await _drill(old, rto="1ms", rpo="1d")
    assert record.ok and record.failures == []
    assert record.warnings[0].startswith("restore took ")
    assert record.warnings[0].endswith(f"above the RTO of {format_duration(0.001)}")
    assert record.warnings[1].startswith("the restored backup was 7d")
    assert record.warnings[1].endswith("above the RPO of 1d")


def _sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as handle:
        handle.write(b"PGDMP")
        handle.truncate(size)
    return path


async def test_not_enough_space_fails_before_restoring(tmp_path: Path, workdir: Path) -> None:
    huge = _sparse(tmp_path / "huge.dump", 1024**4)  # a TiB that takes no room
    record = await _drill(huge)
    assert not record.ok
    assert record.failures[0].startswith(f"not enough space in {workdir}")
    assert "timings" not in record.failures[0] and "restore" not in record.timings


# -- MariaDB and Redis ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def mariadb_dump(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    name = f"wk_src_{secrets.token_hex(4)}"
    connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute(f"create database {name}")
        cursor.execute(f"use {name}")
        cursor.execute(f"create table {name}.orders (id int primary key, note text)")
        cursor.execute(
            f"insert into {name}.orders select seq, concat('order ', seq) from seq_1_to_3000"
        )
        # a view and a trigger: the dump writes them with DEFINER=`root`@`localhost`
        cursor.execute("create view big_orders as select * from orders where id > 10")
        cursor.execute(
            "create trigger orders_note before insert on orders "
            "for each row set new.note = coalesce(new.note, 'none')"
        )
    folder = tmp_path_factory.mktemp("mariadb")
    plain = folder / "shop.sql"
    with open(plain, "wb") as out:
        subprocess.run(
            ["mariadb-dump", "-h", "127.0.0.1", "-u", "root", "--databases", name],
            check=True,
            stdout=out,
        )
    subprocess.run(["zstd", "-q", str(plain)], check=True)
    yield folder / "shop.sql.zst", name
    with connection.cursor() as cursor:
        cursor.execute(f"drop database if exists {name}")
    connection.close()


def _unzstd(path: Path) -> str:
    return subprocess.run(
        ["zstd", "-dcq", str(path)], capture_output=True, text=True, check=True
    ).stdout


def _mariadb_scratch() -> list[str]:
    connection = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        with connection.cursor() as cursor:
            cursor.execute("show databases like 'wk\\_drill\\_%'")
            return [str(r[0]) for r in cursor.fetchall()]
    finally:
        connection.close()


async def test_a_mariadb_dump_restores_into_a_scratch_database_not_its_source(
    mariadb_dump: tuple[Path, str],
) -> None:
    path, source = mariadb_dump
    assert f"USE `{source}`" in _unzstd(path)
    record = await _drill(
        path,
        into=MY,
        tables=["orders"],
        verify=["select count(*) = 2990 from big_orders"],  # the view, as the drill's user
    )
    assert record.ok, record.failures
    assert record.counts == {"orders": 3000}
    assert not [n for n in _mariadb_scratch() if record.id in n]


async def test_sql_in_a_dump_cannot_reach_beyond_the_scratch_database(
    dumps: dict[str, Path], tmp_path: Path
) -> None:
    """The restore runs as a role of the drill's own: a crafted dump that drops another
    database or runs a program on the server fails, and touches nothing."""
    source = dumps["source"].name
    marker = tmp_path / "ran"
    ids = []
    for text in (
        # mid-line, past the filter's reach: only the role's rights stop it
        f"create table t (id int);\nselect 1; drop database {source};\n",
        f"create table t (id int);\ncopy t from program 'touch {marker}';\n",
    ):
        crafted = tmp_path / "crafted.sql"
        crafted.write_text(text + "--\n-- PostgreSQL database dump complete\n--\n")
        for into in (PG, "cluster"):  # (the cluster does not hold the source at all)
            record = await _drill(crafted, into=into)
            ids.append(record.id)
            assert not record.ok, (text, into)
            said = record.failures[0]
            assert "must be" in said or "permission denied" in said or "does not exist" in said
    assert _pg_value(source, "select count(*) from orders") == 5000
    assert not marker.exists()
    with psycopg.connect(PG, autocommit=True) as c:
        roles = [r[0] for r in c.execute("select rolname from pg_roles").fetchall()]
    assert not [role for role in roles if any(role.endswith(i) for i in ids)]


async def test_sql_in_a_mariadb_dump_cannot_reach_beyond_the_scratch_database(
    mariadb_dump: tuple[Path, str], tmp_path: Path
) -> None:
    _, source = mariadb_dump
    crafted = tmp_path / "crafted.sql"
    crafted.write_text(
        "-- MariaDB dump 10.19\n"
        "CREATE TABLE t (id int);\n"
        f"drop table {source}.orders;\n"
        "-- Dump completed on 2026-12-05 10:00:00\n"
    )
    record = await _drill(crafted, into=MY)
    assert not record.ok
    assert "denied" in record.failures[0]
    connection = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"select count(*) from {source}.orders")
            assert cursor.fetchone() == (3000,)
            cursor.execute("select user from mysql.user where user = %s", (f"wkd_{record.id}",))
            assert cursor.fetchall() == ()
    finally:
        connection.close()


async def test_a_mariadb_dump_needs_a_server_to_restore_into(
    mariadb_dump: tuple[Path, str],
) -> None:
    record = await _drill(mariadb_dump[0])
    assert record.failures == [
        "a MariaDB dump is restored into a server: set drill: {into: mysql://root@host}"
    ]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    server = PrivateRedis().start()
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=server.port)
        for i in range(200):
            client.set(f"session:{i}", "x" * 50)
        redis.Redis(host="127.0.0.1", port=server.port, db=3).set("flags", "on")
        client.save()
        folder = tmp_path_factory.mktemp("redis")
        target = folder / "dump.rdb"
        shutil.copy(Path(server.directory) / "dump.rdb", target)
        yield target
    finally:
        server.destroy()


async def test_a_redis_snapshot_loads_into_a_throwaway_server(snapshot: Path) -> None:
    record = await _drill(snapshot, verify=["DBSIZE", "EXISTS session:7"])
    assert record.ok, record.failures
    assert record.counts == {"db0": 200, "db3": 1}
    assert record.target.startswith("redis-server in ")
    assert _left_behind(record, snapshot.parent) == []


async def test_a_corrupt_snapshot_fails_with_the_servers_reason(
    snapshot: Path, tmp_path: Path
) -> None:
    cut = _cut(snapshot, tmp_path / "dump.rdb", 400)
    record = await _drill(cut)
    assert not record.ok
    assert record.failures[0].startswith("restore failed: redis-server exited")
    assert "RDB" in record.failures[0]
    assert _left_behind(record, tmp_path) == []


async def test_a_verification_may_not_send_commands_that_write(snapshot: Path) -> None:
    record = await _drill(snapshot, verify=["FLUSHALL"])
    assert record.failures[0].startswith(
        "verify: 'FLUSHALL' failed: FLUSHALL is not allowed in a verification "
        "(read-only commands only: DBSIZE, EXISTS, GET, "
    )


# -- whatever happens, nothing is left behind ---------------------------------------------
def _cut(source: Path, target: Path, size: int) -> Path:
    target.write_bytes(source.read_bytes()[:size])
    return target


def _scratch_folders(workdir: Path) -> list[Path]:
    return list(workdir.glob("wk-drill-*"))


FOOTER = "--\n-- PostgreSQL database dump complete\n--\n"


def _slow(folder: Path) -> tuple[Path, str]:
    """A "dump" whose restore sleeps a minute; its query names a token of its own."""
    token = f"slow_{secrets.token_hex(4)}"
    path = folder / "slow.sql"
    path.write_text(f"select pg_sleep(60) as {token};\n\n{FOOTER}")
    return path, token


async def test_a_drill_past_its_limit_is_stopped_and_removed(tmp_path: Path) -> None:
    slow, token = _slow(tmp_path)
    spec = BackupSpec(
        path=str(slow), format="pg_plain", drill=DrillSpec(into=PG, workdir=str(tmp_path))
    )
    record = await drill("shop backup", spec, file=File.at(slow), limit=3.0)
    assert not record.ok
    assert record.failures[0] == "the drill took longer than its timeout (3s)"
    assert _left_behind(record, tmp_path) == []
    assert not pg_sessions(token)


async def test_a_cancelled_drill_removes_its_scratch_target(tmp_path: Path, workdir: Path) -> None:
    slow, token = _slow(tmp_path)
    spec = BackupSpec(
        path=str(slow), format="pg_plain", drill=DrillSpec(into="cluster", workdir=str(workdir))
    )
    task = asyncio.create_task(drill("shop backup", spec, file=File.at(slow)))
    for _ in range(600):
        await asyncio.sleep(0.05)
        if _cluster_running(workdir, token):
            break
    else:
        pytest.fail("the drill never reached its restore")
    assert not task.done(), task.result().failures
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _scratch_folders(workdir) == []
    assert os.listdir(ledger.folder()) == []


def _cluster_running(folder: Path, token: str) -> bool:
    """Does a private cluster of a drill in ``folder`` run a query holding ``token``?"""
    for pid_file in folder.glob("wk-drill-*/data/postmaster.pid"):
        lines = pid_file.read_text().splitlines()
        if len(lines) < 4:
            continue
        try:
            with psycopg.connect(
                host=str(pid_file.parent.parent), port=int(lines[3]), user="postgres"
            ) as c:
                rows = c.execute(
                    "select 1 from pg_stat_activity where query like %s "
                    "and pid != pg_backend_pid()",
                    (f"%{token}%",),
                ).fetchall()
                return bool(rows)
        except psycopg.Error:
            return False
    return False


KILLED_DRILL = textwrap.dedent(
    """
    import asyncio, os, sys
    from watchkeeper.backup.drill import drill
    from watchkeeper.backup.settings import BackupSpec, DrillSpec
    path, into, workdir = sys.argv[1:4]

    class File:
        def __init__(self, p):
            self.path, self.name, self.mtime = p, os.path.basename(p), 0.0
            self.size = os.path.getsize(p)

    spec = BackupSpec(path=path, format="pg_plain", drill=DrillSpec(into=into, workdir=workdir))
    asyncio.run(drill("shop backup", spec, file=File(path)))
    """
)


def _start(script: str, *args: str, state: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env={**os.environ, "WATCHKEEPER_STATE": str(state)},
    )


@pytest.mark.parametrize("into", [PG, "cluster"])
async def test_the_sweep_removes_what_a_killed_drill_left(
    tmp_path: Path, state: Path, workdir: Path, into: str
) -> None:
    """kill -9 mid-restore: the psql, the scratch database (or the private cluster and its
    server) stay; the next sweep finds them in the ledger and removes them all."""
    slow, token = _slow(tmp_path)
    child = _start(KILLED_DRILL, str(slow), into, str(workdir), state=state)
    try:
        for _ in range(600):
            if pg_sessions(token) or _cluster_running(workdir, token):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the drill never reached its restore")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    entries = os.listdir(ledger.folder())
    assert len(entries) == 1
    entry = ledger.load(os.path.join(ledger.folder(), entries[0]))
    assert entry is not None and entry.processes
    assert any(ledger.tools.alive(pid, started) for pid, started in entry.processes)
    cleaned = await sweep(scratch_servers([DrillSpec(into=into)]))
    assert len(cleaned) == 1 and cleaned[0].startswith("shop backup: killed ")
    assert os.listdir(ledger.folder()) == []
    assert not any(ledger.tools.alive(pid, started) for pid, started in entry.processes)
    assert _scratch_folders(workdir) == []
    assert not [n for n in _scratch_databases() if entry.id in n]
    assert not pg_sessions(token)


async def test_the_sweep_never_drops_a_database_it_did_not_create(state: Path) -> None:
    """A ledger entry (of a dead process) naming a database that is not the one that drill
    made (another oid): the database stays, and so does the entry."""
    entry = ledger.open_entry("shop backup")
    name = f"wk_drill_shop_backup_{entry.id}"
    _pg("postgres", f"create database {name}")
    try:
        _pg("postgres", f"comment on database {name} is 'the real thing'")
        entry.owner, entry.owner_started = 999_999_999, None  # a process that is gone
        entry.set_database("postgres", name, "127.0.0.1:5432")
        entry.database_oid(1)  # the one it made, since replaced by another of that name
        cleaned = await sweep(scratch_servers([DrillSpec(into=PG)]))
        assert cleaned == ["shop backup: nothing left (database kept: retried later)"]
        assert name in _scratch_databases()
        assert os.listdir(ledger.folder()) == [os.path.basename(entry.path)]
    finally:
        _pg("postgres", f"drop database if exists {name}")


async def test_the_sweep_leaves_drills_whose_process_still_runs(state: Path) -> None:
    entry = ledger.open_entry("shop backup")  # owned by this (living) process
    folder = state / "scratch"
    folder.mkdir()
    entry.add_folder(str(folder))
    assert await sweep({}) == []
    assert folder.exists()
    entry.close()


async def test_functions_a_dump_defines_never_run_with_the_checks_rights(
    dumps: dict[str, Path], tmp_path: Path
) -> None:
    """A dump (owner of its database) defines a bt_index_check that psycopg's int2 oid
    would match before amcheck's own, and a search_path for its database that puts its own
    functions first: amcheck is called by its schema's name, the counts are pg_catalog's,
    and everything runs as the drill's role."""
    marker = tmp_path / "ran"
    crafted = tmp_path / "crafted.sql"
    crafted.write_text(
        "create table public.orders (id int primary key);\n"
        "insert into public.orders values (1), (2);\n"
        "create function public.bt_index_check(smallint) returns void language sql as\n"
        f"  $$ copy (select 1) to program 'touch {marker}' $$;\n"
        "create function public.bt_index_check(integer) returns void language sql as\n"
        f"  $$ copy (select 1) to program 'touch {marker}' $$;\n"
        "do $$ begin execute format('alter database %I set search_path = public, pg_catalog',"
        " current_database()); end $$;\n"
        "--\n-- PostgreSQL database dump complete\n--\n"
    )
    for into in (PG, "cluster"):
        record = await _drill(crafted, into=into, tables=["orders"])
        assert record.ok, (into, record.failures)
        amcheck = next(c["detail"] for c in record.checks if c["check"] == "amcheck")
        assert amcheck == "1 B-tree indexes checked, none corrupt"
    assert not marker.exists()


def test_a_process_whose_start_was_not_read_is_never_taken_for_a_live_one() -> None:
    import os as _os

    assert not ledger.tools.alive(_os.getpid(), None)
    assert ledger.tools.alive(_os.getpid(), ledger.tools.start_time(_os.getpid()))


async def test_file_names_are_shown_not_obeyed(dumps: dict[str, Path], tmp_path: Path) -> None:
    odd = tmp_path / "shop\x1b[2J.dump"
    shutil.copy(dumps["custom"], odd)
    record = await _drill(odd)
    assert record.ok, record.failures
    assert any("shop\\x1b[2J.dump" in line for line in record.log)
    assert not any("\x1b" in line for line in record.log)
