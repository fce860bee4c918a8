"""PostgreSQL scratch targets: a scratch database on a named server, or a private cluster
(``initdb`` + ``postgres`` on a free port, listening on a Unix socket only) that holds one.

Restores use the tools of the newest PostgreSQL installed (``/usr/lib/postgresql/N/bin``,
then PATH): ``pg_restore --no-owner --no-privileges --exit-on-error`` for custom, directory
and tar dumps (a compressed one is decompressed into the work folder first: pg_restore
cannot read through gzip), and ``psql -v ON_ERROR_STOP=1`` for plain SQL, fed through the
decompressor and the safety filter (``scratch.POSTGRES_FILTER``) by pipes. A password never
goes on a command line (where ``ps`` shows it): it is handed over in ``PGPASSWORD``.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import grp
import os
import pwd
import secrets
import shutil
import socket
import time
from typing import Any

from psycopg.conninfo import make_conninfo

from watchkeeper import lanes
from watchkeeper.backup import tools
from watchkeeper.backup.formats import Detected, decompressor
from watchkeeper.backup.ledger import Entry
from watchkeeper.backup.scratch import (
    MARK,
    POSTGRES_FILTER,
    Inventory,
    Restored,
    Scratch,
    ScratchError,
    sed,
)

MAX_COUNTED = 2000
"""Tables counted exactly (``count(*)``); past this many, the rest are not counted."""

_CLUSTER_SETTINGS = (
    # a scratch cluster holds nothing worth keeping: no durability, no WAL archiving,
    # no autovacuum racing the restore
    "fsync=off",
    "full_page_writes=off",
    "synchronous_commit=off",
    "wal_level=minimal",
    "max_wal_senders=0",
    "autovacuum=off",
    "max_wal_size=4GB",
    "checkpoint_timeout=30min",
    "maintenance_work_mem=256MB",
    "shared_buffers=128MB",
    "listen_addresses=",
    "logging_collector=off",
)


def bin_dirs() -> list[str]:
    """PostgreSQL's program folders, newest version first."""
    found = glob.glob("/usr/lib/postgresql/*/bin")
    return sorted(found, key=lambda p: _version_key(p), reverse=True)


def _version_key(path: str) -> tuple[int, ...]:
    part = path.split("/")[-2]
    return tuple(int(x) for x in part.split(".") if x.isdigit()) or (0,)


def pg_tool(name: str) -> str:
    return tools.which(name, extra=bin_dirs())


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class PostgresDatabase(Scratch):
    """A scratch database on the server at ``url`` (the URL's database is where it connects
    to create and drop the scratch one: ``postgres`` usually)."""

    engine = "postgres"

    def __init__(self, entry: Entry, workdir: str, url: str, *, isolate: bool = True) -> None:
        super().__init__(entry, workdir)
        from psycopg import conninfo

        self.isolate = isolate
        """Restore as a role of the drill's own (no superuser, owner of the scratch database
        only): SQL in a dump cannot drop another database, read files or run programs
        (``COPY ... FROM PROGRAM``) on the server."""
        self.role_password = secrets.token_urlsafe(24)

        self.params: dict[str, Any] = dict(conninfo.conninfo_to_dict(url))
        self.password: str | None = self.params.pop("password", None)
        self.server = f"{self.params.get('host', 'localhost')}:{self.params.get('port', 5432)}"
        self.created = False

    @property
    def label(self) -> str:
        return f"database {self.name} on {self.server}"

    def conninfo(self, dbname: str) -> str:
        from psycopg import conninfo

        return conninfo.make_conninfo(**{**self.params, "dbname": dbname})

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if self.password:
            env["PGPASSWORD"] = self.password
        env["PGAPPNAME"] = "watchkeeper-drill"
        env["PGCONNECT_TIMEOUT"] = "10"
        return env

    async def connect(self, dbname: str, deadline: float) -> Any:
        import psycopg

        timeout = max(1, min(30, int(deadline - time.monotonic())))
        try:
            return await psycopg.AsyncConnection.connect(
                self.conninfo(dbname),
                password=self.password,
                connect_timeout=timeout,
                autocommit=True,
                application_name="watchkeeper-drill",
            )
        except psycopg.Error as exc:
            raise ScratchError(f"cannot connect to {self.server}: {_describe(exc)}") from None

    def restore_target(self) -> tuple[str, dict[str, str]]:
        """The connection string and environment the restore tools use."""
        from psycopg import conninfo

        env = self.env()
        if not self.isolate:
            return self.conninfo(self.name), env
        env["PGPASSWORD"] = self.role_password
        target = conninfo.make_conninfo(**{**self.params, "dbname": self.name, "user": self.name})
        return target, env

    async def create(self, deadline: float) -> None:
        import psycopg
        from psycopg import sql

        admin_db = str(self.params.get("dbname") or "postgres")
        connection = await self.connect(admin_db, deadline)
        async with connection:
            self.entry.set_database("postgres", self.name, self.server)
            self.created = True  # from here on, drop() looks for what exists
            try:
                owner: sql.Composable = sql.SQL("")
                if self.isolate:
                    await connection.execute(
                        sql.SQL(
                            "create role {} login password {} nosuperuser nocreatedb "
                            "nocreaterole noreplication"
                        ).format(sql.Identifier(self.name), sql.Literal(self.role_password))
                    )
                    await connection.execute(
                        sql.SQL("comment on role {} is {}").format(
                            sql.Identifier(self.name), sql.Literal(MARK + self.entry.id)
                        )
                    )
                    owner = sql.SQL(" owner {}").format(sql.Identifier(self.name))
                await connection.execute(
                    sql.SQL("create database {} template template0{}").format(
                        sql.Identifier(self.name), owner
                    )
                )
                await connection.execute(
                    sql.SQL("comment on database {} is {}").format(
                        sql.Identifier(self.name), sql.Literal(MARK + self.entry.id)
                    )
                )
            except psycopg.Error as exc:
                raise ScratchError(
                    f"cannot create a scratch database on {self.server}: {_describe(exc)}"
                ) from None

    async def restore(self, path: str, detected: Detected, *, jobs: int, limit: float) -> Restored:
        started = time.monotonic()
        notes: list[str] = []
        target, env = self.restore_target()
        if detected.format == "pg_plain":
            commands: list[list[str]] = []
            unpack = decompressor(detected.compression)
            if unpack is not None:
                commands.append([tools.which(unpack[0]), *unpack[1:], "--", path])
            commands.append([*sed(POSTGRES_FILTER), *([] if unpack else ["--", path])])
            key = secrets.token_hex(16)  # the dump cannot guess it to \unrestrict
            commands.append(
                [
                    pg_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target,
                    "-c", f"\\restrict {key}", "-f", "-",
                ]
            )  # fmt: skip
            run = await tools.pipeline(
                commands, limit=limit, env=env, on_start=self.entry.add_process
            )
            return Restored(run, notes)
        source = path
        if detected.compression != "none":
            source, unpacked = await self._unpack(path, detected, limit)
            if not unpacked.ok:
                return Restored(unpacked, notes)
            notes.append(f"decompressed in {unpacked.elapsed:.1f}s")
        argv = [
            pg_tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "-d",
            target,
        ]
        if detected.format in ("pg_custom", "pg_directory") and jobs > 1:
            argv += ["-j", str(jobs)]
        argv += ["--", source]
        left = max(1.0, limit - (time.monotonic() - started))
        run = await tools.run_tool(
            argv, limit=left, capture=False, env=env, on_start=self.entry.add_process
        )
        return Restored(run, notes)

    async def _unpack(self, path: str, detected: Detected, limit: float) -> tuple[str, Any]:
        unpack = decompressor(detected.compression)
        assert unpack is not None
        folder = os.path.join(self.workdir, f"{self.name}.unpacked")
        os.makedirs(folder, exist_ok=True)
        self.entry.add_folder(folder)
        target = os.path.join(folder, "dump")
        shell = [tools.which(unpack[0]), *unpack[1:], "--", path]
        run = await _write_to(shell, target, limit, self.entry)
        return target, run

    async def inventory(self, deadline: float) -> Inventory:
        import psycopg
        from psycopg import sql

        connection = await self.connect(self.name, deadline)
        found = Inventory()
        async with connection:
            await _statement_timeout(connection, deadline)
            rows = await (
                await connection.execute(
                    "select n.nspname, c.relname from pg_class c "
                    "join pg_namespace n on n.oid = c.relnamespace "
                    "where c.relkind in ('r', 'p') and not c.relispartition "
                    "and n.nspname not in ('pg_catalog', 'information_schema') "
                    "and n.nspname not like 'pg_toast%' order by 1, 2"
                )
            ).fetchall()
            for index, (schema, table) in enumerate(rows):
                if index >= MAX_COUNTED:
                    found.uncounted = len(rows) - MAX_COUNTED
                    break
                await _statement_timeout(connection, deadline)
                try:
                    cursor = await connection.execute(
                        sql.SQL("select count(*) from {}.{}").format(
                            sql.Identifier(schema), sql.Identifier(table)
                        )
                    )
                    value = await cursor.fetchone()
                except psycopg.Error as exc:
                    raise ScratchError(f"counting {schema}.{table}: {_describe(exc)}") from None
                name = table if schema == "public" else f"{schema}.{table}"
                found.counts[name] = int(value[0]) if value else 0
        return found

    async def query(self, text: str, deadline: float) -> Any:
        import psycopg

        connection = await self.connect(self.name, deadline)
        async with connection:
            await _statement_timeout(connection, deadline)
            try:
                async with connection.transaction():
                    await connection.execute("set transaction read only")
                    cursor = await connection.execute(text.encode())
                    row = await cursor.fetchone() if cursor.description else None
            except psycopg.Error as exc:
                raise ScratchError(_describe(exc)) from None
        return None if not row else row[0]

    async def amcheck(self, deadline: float) -> tuple[int, list[str], str | None]:
        import psycopg

        connection = await self.connect(self.name, deadline)
        async with connection:
            try:
                await connection.execute("create extension if not exists amcheck")
            except psycopg.Error as exc:
                return 0, [], f"amcheck is not available: {_describe(exc)}"
            indexes = await (
                await connection.execute(
                    "select c.oid, n.nspname || '.' || c.relname from pg_index i "
                    "join pg_class c on c.oid = i.indexrelid "
                    "join pg_namespace n on n.oid = c.relnamespace "
                    "join pg_am a on a.oid = c.relam "
                    "where a.amname = 'btree' and i.indisvalid and i.indisready "
                    "and c.relpersistence != 't' "
                    "and n.nspname not in ('pg_catalog', 'information_schema') "
                    "and n.nspname not like 'pg_toast%'"
                )
            ).fetchall()
            problems: list[str] = []
            for oid, name in indexes:
                await _statement_timeout(connection, deadline)
                try:
                    await connection.execute("select bt_index_check(%s)", (oid,))
                except psycopg.Error as exc:
                    problems.append(f"index {name}: {_describe(exc)}")
            return len(indexes), problems, None

    async def drop(self) -> None:
        if not self.created:
            return
        await drop_marked(self, self.name, self.entry.id)


async def drop_marked(target: PostgresDatabase, name: str, drill_id: str) -> bool:
    """Drop database ``name`` and the role of that name if each is this drill's (its
    comment is the drill's mark, or it has no comment yet — a create killed before its
    comment — and the drill's id in its name); True when both are gone."""
    from psycopg import sql

    deadline = time.monotonic() + 60
    admin_db = str(target.params.get("dbname") or "postgres")
    connection = await target.connect(admin_db, deadline)
    gone = True
    async with connection:
        for catalog, column, statement in (
            ("pg_database", "datname", "drop database if exists {} with (force)"),
            ("pg_authid", "rolname", "drop role if exists {}"),
        ):
            table = "pg_roles" if catalog == "pg_authid" else catalog
            row = await (
                await connection.execute(
                    sql.SQL("select shobj_description(oid, {}) from {} where {} = %s").format(
                        sql.Literal(catalog), sql.Identifier(table), sql.Identifier(column)
                    ),
                    (name,),
                )
            ).fetchone()
            if row is None:
                continue  # never made, or gone already
            if row[0] != MARK + drill_id and (row[0] is not None or not name.endswith(drill_id)):
                gone = False  # not ours: left alone
                continue
            await connection.execute(sql.SQL(statement).format(sql.Identifier(name)))
    return gone


async def _statement_timeout(connection: Any, deadline: float) -> None:
    left = max(1, int((deadline - time.monotonic()) * 1000))
    await connection.execute(f"set statement_timeout = {left}")


async def _write_to(argv: list[str], target: str, limit: float, entry: Entry) -> tools.Run:
    """Run ``argv`` with its stdout written to the file ``target``."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=descriptor,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    finally:
        os.close(descriptor)
    entry.add_process(process.pid)
    run = tools.Run(outcomes=[tools.Outcome(list(argv))])
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit):
            _, stderr = await process.communicate()
        run.outcomes[0].code = process.returncode
        run.outcomes[0].stderr = stderr[-tools.TAIL :]
    except TimeoutError:
        run.timed_out = True
        tools.kill_session(process.pid)
        await process.wait()
    finally:
        if process.returncode is None:
            tools.kill_session(process.pid)
    run.elapsed = time.perf_counter() - started
    return run


class PostgresCluster(PostgresDatabase):
    """A private PostgreSQL cluster in the work folder, made for one drill: ``initdb``, then
    ``postgres`` on a free port with its socket in that folder and no TCP listener. Run as
    the ``postgres`` user when Watchkeeper runs as root (PostgreSQL refuses root)."""

    local = True

    def __init__(self, entry: Entry, workdir: str, *, isolate: bool = True) -> None:
        self.port = _free_port()
        super().__init__(
            entry,
            workdir,
            # key=value, quoted: a workdir may hold spaces or & that a URL would misread
            make_conninfo(
                host=os.path.join(workdir, f"wk-drill-{entry.id}"),
                port=str(self.port),
                user="postgres",
                dbname="postgres",
            ),
            isolate=isolate,
        )
        self.server = f"private cluster on port {self.port}"
        self.user: str | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.log_path = os.path.join(self.folder, "server.log")

    @property
    def label(self) -> str:
        return f"private PostgreSQL cluster in {self.folder} (port {self.port})"

    async def create(self, deadline: float) -> None:
        await self.make_folder()
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise ScratchError(
                    "a private cluster cannot run as root and there is no postgres user"
                ) from None
            blocked = await lanes.BACKUPS.run(_closed_to, account, self.workdir)
            if blocked is not None:
                raise ScratchError(
                    f"the private cluster runs as postgres, which cannot enter {blocked}: "
                    "set drill: {workdir: ...} to a folder it can reach"
                )
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.user = "postgres"
        data = os.path.join(self.folder, "data")
        run = await tools.run_tool(
            [
                pg_tool("initdb"),
                "-D",
                data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            limit=max(5.0, deadline - time.monotonic()),
            on_start=self.entry.add_process,
            user=self.user,
            env=_c_locale(),
        )
        if not run.ok:
            raise ScratchError(f"initdb failed: {run.failure()}")
        argv = [pg_tool("postgres"), "-D", data, "-p", str(self.port), "-k", self.folder]
        for setting in _CLUSTER_SETTINGS:
            argv += ["-c", setting]
        # its log goes to a file: a pipe nobody drains would stop the server when full
        log_file = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.process = await asyncio.create_subprocess_exec(
                *tools.as_user(self.user),
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
                env=_c_locale(),
            )
        finally:
            os.close(log_file)
        self.entry.add_process(self.process.pid)
        socket_path = os.path.join(self.folder, f".s.PGSQL.{self.port}")
        while not await lanes.BACKUPS.run(os.path.exists, socket_path):
            if self.process.returncode is not None or time.monotonic() > deadline:
                raise ScratchError(f"the private cluster did not start: {await self._log()}")
            await asyncio.sleep(0.05)
        await self._accepting(deadline)
        await super().create(deadline)

    async def _accepting(self, deadline: float) -> None:
        """Wait until the server takes connections (its socket comes before the end of its
        start-up: "the database system is starting up")."""
        import psycopg

        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(
                    self.conninfo("postgres"), connect_timeout=5
                )
            except psycopg.OperationalError as exc:
                assert self.process is not None
                if self.process.returncode is not None or time.monotonic() > deadline:
                    raise ScratchError(
                        f"the private cluster did not start: {_describe(exc)}"
                    ) from None
                await asyncio.sleep(0.05)
                continue
            await connection.close()
            return

    async def _log(self) -> str:
        from watchkeeper import lanes

        tail = await lanes.BACKUPS.run(_tail_of, self.log_path)
        lines = tail.decode("utf-8", "replace").strip().splitlines()
        if lines:
            return lines[-1]
        code = self.process.returncode if self.process is not None else None
        return f"exit status {code}"

    async def drop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            tools.kill_session(self.process.pid)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 10.0)
        from watchkeeper import lanes

        await lanes.BACKUPS.run(shutil.rmtree, self.folder, True)


def _tail_of(path: str, size: int = 4096) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - size))
            return handle.read()
    except OSError:
        return b""


def _closed_to(account: pwd.struct_passwd, path: str) -> str | None:
    """The first folder on the way to ``path`` that ``account`` may not pass through."""
    import stat

    groups = {account.pw_gid} | {g.gr_gid for g in grp.getgrall() if account.pw_name in g.gr_mem}
    current = os.path.abspath(path)
    chain = []
    while True:
        chain.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for folder in reversed(chain):
        try:
            info = os.stat(folder)
        except OSError:
            return folder
        mode = info.st_mode
        if info.st_uid == account.pw_uid:
            allowed = bool(mode & stat.S_IXUSR)
        elif info.st_gid in groups:
            allowed = bool(mode & stat.S_IXGRP)
        else:
            allowed = bool(mode & stat.S_IXOTH)
        if not allowed:
            return folder
    return None


def _c_locale() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PG"))}
    env["LANG"] = "C"
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
