"""Restore drills against hostile backups and hostile records: what a crafted dump, snapshot,
manifest or record could do to the machine, the servers, the terminal or the report, and
the line that stops it. Real servers (the machine's MariaDB on 127.0.0.1:3306 as root, a
throwaway redis-server), real files (FIFOs, links to /dev/zero)."""

from __future__ import annotations

import asyncio
import html
import io
import json
import os
import pwd
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest
from apprise.conversion.format import markdown_to_html
from rich.console import Console
from tests.helpers.redis_server import PrivateRedis

from watchkeeper.backup import ledger
from watchkeeper.backup.drill import DrillRecord, drill
from watchkeeper.backup.evidence import Evidence
from watchkeeper.backup.formats import detect
from watchkeeper.backup.scratch import ScratchError
from watchkeeper.backup.scratch_mariadb import MariadbDatabase, drop_marked, sandboxed_client
from watchkeeper.backup.scratch_redis import RedisServer
from watchkeeper.backup.settings import BackupSpec, DrillSpec
from watchkeeper.backup.verify import MANIFEST_BYTES, read_manifest
from watchkeeper.report import drills as render

MY = "mysql://root@127.0.0.1:3306/"
HEAD = "-- MariaDB dump 10.19\n"
FOOT = "-- Dump completed on 2026-12-05 10:00:00\n"


@dataclass
class File:
    path: str
    name: str
    size: int
    mtime: float

    @classmethod
    def at(cls, path: Path) -> File:
        stat = path.stat()
        return cls(str(path), path.name, stat.st_size, stat.st_mtime)


def _crafted(folder: Path, sql: str, name: str = "crafted.sql") -> Path:
    path = folder / name
    path.write_text(HEAD + sql + FOOT)
    return path


async def _drill(path: Path, workdir: Path, monitor: str = "shop backup", **kw: Any) -> DrillRecord:
    spec = BackupSpec(path=str(path), drill=DrillSpec(workdir=str(workdir), **kw))
    return await drill(monitor, spec, file=File.at(path))


def _root() -> pymysql.connections.Connection[Any]:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)


def _databases(like: str) -> list[str]:
    connection = _root()
    try:
        with connection.cursor() as cursor:
            cursor.execute("select schema_name from information_schema.schemata")
            return [str(r[0]) for r in cursor.fetchall() if like in str(r[0])]
    finally:
        connection.close()


def _users(like: str) -> list[str]:
    connection = _root()
    try:
        with connection.cursor() as cursor:
            cursor.execute("select user from mysql.user")
            return [str(r[0]) for r in cursor.fetchall() if like in str(r[0])]
    finally:
        connection.close()


def _forget(drill_id: str) -> None:
    """Drop whatever a drill of ``drill_id`` left on the shared server (after a failure)."""
    connection = _root()
    try:
        with connection.cursor() as cursor:
            for name in _databases(drill_id):
                cursor.execute(f"drop database if exists `{name}`")
            for user in _users(drill_id):
                cursor.execute("drop user if exists %s@'%%'", (user,))
    finally:
        connection.close()


def _nothing_left(record: DrillRecord, workdir: Path) -> None:
    assert _databases(record.id) == []
    assert _users(record.id) == []
    assert list(workdir.glob(f"*{record.id}*")) == []
    assert os.listdir(ledger.folder()) == []


# -- MariaDB: the client's sandbox ----------------------------------------------------------
HELP_WITHOUT_SANDBOX = """\
mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)
Usage: mysql [OPTIONS] [database]
  -?, --help          Display this help and exit.
  -B, --batch         Don't use history file. Disable interactive behavior.
  --local-infile      Enable/disable LOAD DATA LOCAL INFILE.
  -D, --database=name Database to use.
"""


def _fake_client(folder: Path, body: str) -> Path:
    """A ``mariadb`` of a version not installed here (the Oracle client, an older MariaDB):
    a script that records how it was called, then does ``body``."""
    folder.mkdir(exist_ok=True)
    client = folder / "mariadb"
    calls = folder / "calls"
    client.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n{body}\n')
    client.chmod(0o755)
    return client


async def test_a_client_without_sandbox_is_refused_before_anything_is_made(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fake: a client whose --help lists no --sandbox (MySQL 8's, MariaDB before 10.5.25).
    The drill refuses in one line and never hands it the dump."""
    (tmp_path / "help.txt").write_text(HELP_WITHOUT_SANDBOX)
    client = _fake_client(tmp_path / "bin", f"cat {tmp_path / 'help.txt'}")
    monkeypatch.setenv("PATH", f"{client.parent}:{os.environ['PATH']}")
    dump = _crafted(tmp_path, "CREATE TABLE t (id int);\n")
    record = await _drill(dump, workdir, into=MY)
    assert record.failures == [
        f"{client} has no --sandbox, so a dump's shell and file commands would run: restoring "
        "needs the mariadb client of MariaDB 10.5.25, 10.6.18, 10.11.8, 11.0.6 or later "
        "(the Oracle mysql client has none)"
    ]
    assert (tmp_path / "bin" / "calls").read_text() == "--help\n"  # asked, never fed
    assert "create" not in record.timings
    _nothing_left(record, workdir)


async def test_a_failed_sandbox_probe_is_asked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A probe that fails says so and is not remembered as "no sandbox": the next drill
    asks again (a client busy being upgraded, a probe past its time)."""
    client = _fake_client(tmp_path / "bin", "exit 1")
    monkeypatch.setenv("PATH", f"{client.parent}:{os.environ['PATH']}")
    with pytest.raises(ScratchError, match=r"^cannot tell whether .* has --sandbox: mariadb"):
        await sandboxed_client()
    (tmp_path / "help.txt").write_text(
        HELP_WITHOUT_SANDBOX + "  --sandbox           Disallow commands that access the file\n"
    )
    client.write_text(f"#!/bin/sh\ncat {tmp_path / 'help.txt'}\n")
    assert await sandboxed_client() == str(client)


async def test_a_dump_cannot_read_files_with_load_data_local(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox leaves LOAD DATA LOCAL INFILE alone: an option file that enables it
    (an admin's ~/.my.cnf) would let a dump read Watchkeeper's files into the scratch
    database. --local-infile=0 on the command line wins over every option file."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".my.cnf").write_text("[client]\nlocal-infile=1\n")
    monkeypatch.setenv("HOME", str(home))
    secret = tmp_path / "secret.yaml"
    secret.write_text("token: hunter2\n")
    dump = _crafted(
        tmp_path,
        f"CREATE TABLE t (line text);\nLOAD DATA LOCAL INFILE '{secret}' INTO TABLE t;\n",
    )
    record = await _drill(dump, workdir, into=MY)
    assert not record.ok
    assert "local infile" in record.failures[0], record.failures
    assert record.counts == {}
    _nothing_left(record, workdir)


# -- MariaDB: the drill's user and database ---------------------------------------------------
async def test_the_drills_user_is_named_within_mysqls_32_characters(
    tmp_path: Path, workdir: Path
) -> None:
    dump = _crafted(tmp_path, "CREATE TABLE who AS SELECT current_user() AS u;\n")
    record = await _drill(dump, workdir, into=MY, verify=["select u from who"])
    assert record.ok, record.failures
    user = f"wkd_{record.id}"
    assert len(user) == 24
    assert record.checks[-1]["detail"] == f"'select u from who' returned '{user}@%'"
    _nothing_left(record, workdir)


async def test_a_dump_that_rewrites_the_comment_is_still_dropped(
    tmp_path: Path, workdir: Path
) -> None:
    """The restored dump may change the scratch database's comment (its own database):
    the clean-up goes by the name, and drops it."""
    dump = _crafted(
        tmp_path,
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n"
        "ALTER DATABASE COMMENT = 'the real thing: keep';\n",
    )
    record = await _drill(dump, workdir, into=MY)
    try:
        assert record.ok, record.failures
        assert record.warnings == []
        _nothing_left(record, workdir)
    finally:
        _forget(record.id)


async def test_only_a_database_named_as_the_drills_is_dropped(state: Path) -> None:
    entry = ledger.open_entry("shop backup")
    target = MariadbDatabase(entry, "", MY)
    other = f"keep_{entry.id}"  # ends with the id, not a drill's name
    connection = _root()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"create database {other}")
        assert not await asyncio.to_thread(drop_marked, target, other, entry.id)
        assert not await asyncio.to_thread(drop_marked, target, target.name, "")
        assert not await asyncio.to_thread(drop_marked, target, target.name, entry.id[1:])
        assert _databases(other) == [other]
        entry.set_database("mariadb", other, target.server)
        target.name = other  # a ledger entry naming what the drill did not make
        with pytest.raises(ScratchError, match=f"^{other} was not dropped: its name is not"):
            await target.drop()
        assert _databases(other) == [other]
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"drop database if exists {other}")
        connection.close()
        entry.close()


class GatedProxy:
    """A TCP proxy in front of the machine's MariaDB that holds every connection until
    ``gate`` is set: a server slow to answer."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.connected = asyncio.Event()
        self.open = 0
        self.closed = asyncio.Condition()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> GatedProxy:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.connected.set()
        try:
            await self.gate.wait()
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 3306)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            writer.close()
            async with self.closed:
                self.open -= 1
                self.closed.notify_all()

    async def idle(self) -> None:
        async with self.closed:
            await self.closed.wait_for(lambda: self.open == 0)

    async def close(self) -> None:
        self.gate.set()
        if self.server is not None:
            self.server.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def test_a_database_created_after_a_cancellation_is_still_dropped(
    tmp_path: Path, workdir: Path
) -> None:
    """The drill is cancelled while its scratch database is being created (on a lane
    thread, which goes on): the clean-up waits for the creation and drops what it made,
    instead of deciding at once that nothing was made."""
    proxy = await GatedProxy().start()
    dump = _crafted(tmp_path, "CREATE TABLE t (id int);\n")
    spec = BackupSpec(
        path=str(dump),
        drill=DrillSpec(into=f"mysql://root@127.0.0.1:{proxy.port}/", workdir=str(workdir)),
    )
    task = asyncio.create_task(drill("shop backup", spec, file=File.at(dump)))
    drill_id = ""
    try:
        await asyncio.wait_for(proxy.connected.wait(), 60)  # creating, held at the proxy
        (entry_file,) = os.listdir(ledger.folder())
        drill_id = entry_file.removesuffix(".json")
        task.cancel()
        # (a bound, not a measure: the clean-up either ends without waiting for the
        # creation, or waits for it until the gate opens)
        await asyncio.wait([task], timeout=2.0)
        proxy.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(proxy.idle(), 60)  # the creation's connection has ended
        assert _databases(drill_id) == []
        assert _users(drill_id) == []
        assert os.listdir(ledger.folder()) == []
        assert await asyncio.to_thread(os.listdir, workdir) == []
    finally:
        await proxy.close()
        if not task.done():
            task.cancel()
        if drill_id:
            _forget(drill_id)


# -- Redis ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    server = PrivateRedis().start()
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=server.port)
        for i in range(50):
            client.set(f"session:{i}", "x" * 20)
        client.save()
        client.close()
        target = tmp_path_factory.mktemp("redis") / "dump.rdb"
        shutil.copy(Path(server.directory) / "dump.rdb", target)
        yield target
    finally:
        server.destroy()


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


async def test_redis_server_runs_unprivileged_with_a_bare_environment(
    snapshot: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root, the server that loads a hostile snapshot (its FUNCTION libraries run Lua
    at load) runs as the redis account, owner of the drill's folder, without Watchkeeper's
    environment (it may hold the config's secrets)."""
    assert os.geteuid() == 0, "the tests run as root on this machine"
    account = pwd.getpwnam("redis")
    monkeypatch.setenv("WK_TEST_SECRET", "hunter2")
    entry = ledger.open_entry("cache backup")
    server = RedisServer(entry, str(workdir))
    try:
        await server.create(time.monotonic() + 60)
        restored = await server.restore(
            str(snapshot), await detect(str(snapshot)), jobs=1, limit=60.0
        )
        assert restored.run.ok, restored.run.failure()
        assert server.process is not None
        status = _proc_status(server.process.pid)
        assert status["Uid"].split() == [str(account.pw_uid)] * 4
        assert status["Gid"].split() == [str(account.pw_gid)] * 4
        # redis-server writes its process title over its environment (zeros); the area
        # keeps the size of what it was given: two variables, not Watchkeeper's
        given = b"PATH=/usr/local/bin:/usr/bin:/bin\0LANG=C\0"
        environ = await asyncio.to_thread(_read, f"/proc/{server.process.pid}/environ")
        assert len(environ) == len(given) and environ in (given, bytes(len(given)))
        for name in ("", "dump.rdb", "redis.log"):
            owner = (await asyncio.to_thread(os.lstat, os.path.join(server.folder, name))).st_uid
            assert owner == account.pw_uid, name
        assert await server.query("DBSIZE", time.monotonic() + 10) == 50
    finally:
        await server.drop()
        entry.close()
    assert not await asyncio.to_thread(os.path.exists, server.folder)


async def test_redis_log_is_made_new_never_through_a_link(
    snapshot: Path, workdir: Path, tmp_path: Path
) -> None:
    """A ``redis.log`` already in the drill's folder (a link to a file elsewhere) is not
    followed: the restore stops in one line and the file it points at is never made."""
    victim = tmp_path / "victim"
    entry = ledger.open_entry("cache backup")
    server = RedisServer(entry, str(workdir))
    try:
        await server.create(time.monotonic() + 60)
        os.symlink(victim, os.path.join(server.folder, "redis.log"))
        with pytest.raises(ScratchError) as raised:
            await server.restore(str(snapshot), await detect(str(snapshot)), jobs=1, limit=60.0)
        assert str(raised.value) == f"cannot create redis.log in {server.folder}: File exists"
        assert not victim.exists() and not victim.is_symlink()
    finally:
        await server.drop()
        entry.close()


@pytest.mark.parametrize(
    ("command", "refused"),
    [
        ("FLUSHALL", "FLUSHALL"),
        ("FCALL_RO wipe 0", "FCALL_RO"),
        ("FCALL wipe 0", "FCALL"),
        ("EVAL_RO 'return 1' 0", "EVAL_RO"),
        ("MEMORY DOCTOR", "MEMORY DOCTOR"),
        ("CLIENT LIST", "CLIENT"),
        ("ACL LIST", "ACL"),
    ],
)
async def test_a_verification_sends_only_read_only_commands(
    snapshot: Path, workdir: Path, command: str, refused: str
) -> None:
    record = await _drill(snapshot, workdir, verify=["DBSIZE", command])
    assert record.failures == [
        f"verify: {command!r} failed: {refused} is not allowed in a verification "
        "(read-only commands only: DBSIZE, EXISTS, GET, MGET, TYPE, TTL, PTTL, STRLEN, "
        "GETRANGE, HGET, HMGET, HLEN, HEXISTS, HKEYS, HGETALL, LLEN, LINDEX, LRANGE, SCARD, "
        "SISMEMBER, SMEMBERS, ZCARD, ZSCORE, ZRANGE, ZCOUNT, XLEN, INFO, PING, SCAN, KEYS, "
        "RANDOMKEY, OBJECT, MEMORY USAGE)"
    ]


async def test_read_only_commands_are_allowed(snapshot: Path, workdir: Path) -> None:
    record = await _drill(
        snapshot,
        workdir,
        verify=["memory usage session:1", "OBJECT ENCODING session:1", "strlen session:2"],
    )
    assert record.ok, record.failures


# -- the manifest ---------------------------------------------------------------------------
async def test_a_manifest_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    """Opened blocking, a FIFO without a writer would hold the read forever."""
    os.mkfifo(tmp_path / "shop.dump.manifest.json")
    said = await read_manifest(str(tmp_path / "shop.dump"))
    assert said == "shop.dump.manifest.json is not a regular file"


async def test_a_manifest_that_links_to_dev_zero_is_refused(tmp_path: Path) -> None:
    """/dev/zero has no size and no end: followed, it would be read until memory ran out."""
    os.symlink("/dev/zero", tmp_path / "shop.dump.manifest.json")
    said = await read_manifest(str(tmp_path / "shop.dump"))
    assert said == (
        "shop.dump.manifest.json is a symbolic link: the manifest must be a file of its own"
    )


async def test_a_manifest_nested_too_deeply_is_refused(tmp_path: Path) -> None:
    (tmp_path / "shop.dump.manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    said = await read_manifest(str(tmp_path / "shop.dump"))
    assert said == "shop.dump.manifest.json cannot be read: its JSON is nested too deeply"


async def test_a_manifest_too_large_is_refused(tmp_path: Path) -> None:
    padding = " " * MANIFEST_BYTES
    (tmp_path / "shop.dump.manifest.json").write_text('{"tables": {"orders": 1}}' + padding)
    said = await read_manifest(str(tmp_path / "shop.dump"))
    assert said == "shop.dump.manifest.json is larger than 1 MiB"
    (tmp_path / "shop.dump.manifest.json").write_text('{"tables": {"orders": 1}}')
    assert await read_manifest(str(tmp_path / "shop.dump")) == {"orders": 1}


# -- reports of hostile records ---------------------------------------------------------------
HOSTILE = "orders\n# x\x1b[2J ``` `"


def _hostile_record() -> dict[str, Any]:
    return {
        "kind": "drill",
        "monitor": "shop backup",
        "id": "20260101000000abcdef",
        "started_at": 1_700_000_000.0,
        "ok": False,
        "failures": [f"restore failed: mariadb exited with 1: table {HOSTILE}"],
        "warnings": [f"clean-up incomplete ({HOSTILE}); the next start removes it"],
        "backup": {
            "name": f"shop{HOSTILE}.sql",
            "path": "/backups/x",
            "size": 10,
            "mtime": 1_700_000_000.0,
            "format": "mysql",
            "compression": "none",
        },
        "target": f"database wk_drill_x on {HOSTILE}",
        "rto_s": None,
        "rpo_s": 5.0,
        "objectives": {},
        "timings": {"pick": 0.1},
        "counts": {HOSTILE: 3},
        "checks": [{"check": "tables", "ok": False, "detail": f"table {HOSTILE} is missing"}],
        "reference": None,
        "log": [f"10:00:00 mariadb: ERROR at line 3: {HOSTILE}", "```", "`````` x"],
    }


def test_a_hostile_record_stays_inert_in_markdown() -> None:
    text = render.drill_markdown(_hostile_record())
    assert "\x1b" not in text
    assert "\\x1b[2J" in text
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("#")] == [
        "# Restore drill of shop backup: failed",
        "## Log",
    ]
    log = lines[lines.index("## Log") + 2 :]
    assert log[0] == "```````text" and log[-1] == "```````"  # longer than any run inside
    assert log[1] == "10:00:00 mariadb: ERROR at line 3: orders\\x0a# x\\x1b[2J ``` `"
    page = markdown_to_html(text)
    assert page.count("<h1") == 1 and page.count("<h2") == 1  # no heading of the record's
    assert page.count("<pre>") == 1 and page.rstrip().endswith("</code></pre>")


def test_a_hostile_record_stays_inert_in_the_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, width=400, color_system=None, force_terminal=False)
    render.print_drill(console, _hostile_record())
    render.print_history(console, "shop backup", [_hostile_record()])
    text = out.getvalue()
    assert "\x1b" not in text
    assert "\\x1b[2J" in text
    assert not [line for line in text.splitlines() if line.lstrip().startswith("# x")]


def test_a_hostile_record_is_escaped_in_html() -> None:
    text = render.drill_html(_hostile_record())
    assert f"shop{html.escape(HOSTILE)}.sql" in text


# -- evidence -----------------------------------------------------------------------------
def _evidence(warnings: list[str]) -> Evidence:
    latest = {"ok": True, "started_at": time.time(), "warnings": warnings}
    return Evidence(
        backup="shop",
        drill="shop drill",
        every=86400.0,
        rto_objective=60.0,
        rpo_objective=86400.0,
        latest=latest,
        last_success=latest,
        drills=1,
        passed=1,
    )


def test_only_a_missed_rto_or_rpo_is_an_objective_missed() -> None:
    cleanup = "clean-up incomplete (dropping x: gone away); the next start removes it"
    row = _evidence([cleanup])
    assert row.status == "ok"
    assert row.as_json()["warnings"] == [cleanup]
    assert f"shop: {render.md(cleanup)}" in render.evidence_markdown([row])
    for missed in (
        "restore took 2m, above the RTO of 1m",
        "the restored backup was 2d old, above the RPO of 1d",
    ):
        assert _evidence([cleanup, missed]).status == "objective missed"
    assert json.loads(render.evidence_json([row]))["backups"][0]["status"] == "ok"
