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
import re
import secrets
import shutil
import signal
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

MAX_MEMORY = 4 * 1024**3
"""Address space each restore tool may take (a damaged dump may announce any length)."""

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
    to create and drop the scratch one: ``postgres`` usually).

    With ``isolate`` (the default) the restore, the counts, the user's queries and amcheck
    all run as a role of the drill's own: no superuser, owner of the scratch database only,
    on connections that pin ``search_path`` to ``pg_catalog`` first. SQL in a dump (or a
    function it defines, such as a ``public.count``) then cannot reach anything beyond the
    scratch database: not drop another database, not read a file, not run a program."""

    engine = "postgres"
    ledger_engine = "postgres"

    def __init__(self, entry: Entry, workdir: str, url: str, *, isolate: bool = True) -> None:
        super().__init__(entry, workdir)
        from psycopg import conninfo

        self.isolate = isolate
        self.role_password = secrets.token_urlsafe(24)
        try:
            self.params: dict[str, Any] = dict(conninfo.conninfo_to_dict(url))
        except Exception:  # its text may quote the password: never shown
            raise ScratchError("into is not a PostgreSQL URL psycopg can read") from None
        self.password: str | None = self.params.pop("password", None)
        self.server = f"{self.params.get('host', 'localhost')}:{self.params.get('port', 5432)}"
        self.created = False

    @property
    def label(self) -> str:
        return f"database {self.name} on {self.server}"

    def conninfo(self, dbname: str, *, as_role: bool = False, pinned: bool = False) -> str:
        """``pinned``: ``search_path`` set at connection (over any default the dump gave its
        database or role), ``pg_catalog`` first: our own queries into what the dump made."""
        from psycopg import conninfo

        params = {**self.params, "dbname": dbname}
        if as_role and self.isolate:
            params["user"] = self.name
        if pinned:
            params["options"] = "-c search_path=pg_catalog,public,pg_temp"
        return conninfo.make_conninfo(**params)

    def env(self, *, as_role: bool = False) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("PG") or k.startswith("PGSSL")
        }
        password = self.role_password if as_role and self.isolate else self.password
        if password:
            env["PGPASSWORD"] = password
        env["PGAPPNAME"] = "watchkeeper-drill"
        env["PGCONNECT_TIMEOUT"] = "10"
        return env

    async def connect(self, dbname: str, deadline: float, *, as_role: bool = False) -> Any:
        """A connection for our own queries (into the scratch database: ``pinned``)."""
        import psycopg

        timeout = max(1, min(30, int(deadline - time.monotonic())))
        password = self.role_password if as_role and self.isolate else self.password
        try:
            return await psycopg.AsyncConnection.connect(
                self.conninfo(dbname, as_role=as_role, pinned=dbname == self.name),
                password=password,
                connect_timeout=timeout,
                autocommit=True,
                application_name="watchkeeper-drill",
            )
        except psycopg.Error as exc:
            raise ScratchError(f"cannot connect to {self.server}: {_describe(exc)}") from None

    async def create(self, deadline: float) -> None:
        import psycopg
        from psycopg import sql

        admin_db = str(self.params.get("dbname") or "postgres")
        connection = await self.connect(admin_db, deadline)
        async with connection:
            self.entry.set_database(self.ledger_engine, self.name, self.server)
            self.created = True  # from here on, drop() looks for what exists
            role = sql.Identifier(self.name)
            try:
                owner: sql.Composable = sql.SQL("")
                if self.isolate:
                    await connection.execute(
                        sql.SQL(
                            "create role {} login password {} nosuperuser nocreatedb "
                            "nocreaterole noreplication"
                        ).format(role, sql.Literal(_verifier(self.name, self.role_password)))
                    )
                    with contextlib.suppress(psycopg.Error):  # PostgreSQL 16+: to own with it
                        await connection.execute(sql.SQL("grant {} to current_user").format(role))
                    owner = sql.SQL(" owner {}").format(role)
                await connection.execute(
                    sql.SQL("create database {} template template0{}").format(
                        sql.Identifier(self.name), owner
                    )
                )
                row = await (
                    await connection.execute(
                        "select oid from pg_database where datname = %s", (self.name,)
                    )
                ).fetchone()
                if row is not None:
                    self.entry.database_oid(int(row[0]))
                await connection.execute(
                    sql.SQL("comment on database {} is {}").format(
                        sql.Identifier(self.name), sql.Literal(MARK + self.entry.id)
                    )
                )
            except psycopg.Error as exc:
                raise ScratchError(
                    f"cannot create a scratch database on {self.server}: {_describe(exc)}"
                ) from None

    def restore_target(self) -> tuple[str, dict[str, str]]:
        """The connection string and environment the restore tools use."""
        return self.conninfo(self.name, as_role=True), self.env(as_role=True)

    async def restore(self, path: str, detected: Detected, *, jobs: int, limit: float) -> Restored:
        started = time.monotonic()
        notes: list[str] = []
        target, env = self.restore_target()
        memory = ["prlimit", f"--as={MAX_MEMORY}", "--"] if shutil.which("prlimit") else []
        if detected.format == "pg_plain":
            await _restrict_supported()
            commands: list[list[str]] = []
            unpack = decompressor(detected.compression)
            if unpack is not None:
                commands.append([tools.which(unpack[0]), *unpack[1:], "--", path])
            commands.append([*sed(POSTGRES_FILTER), *([] if unpack else ["--", path])])
            # psql restricted before the dump's first line, with a key the dump cannot know
            # (from the environment: a command line is visible to every local user)
            env["WK_DRILL_KEY"] = secrets.token_hex(16)
            commands.append(
                [
                    *memory, pg_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                    "-v", "VERBOSITY=terse", "-d", target,
                    "-c", "\\getenv wk_drill_key WK_DRILL_KEY", "-c", "\\restrict :wk_drill_key",
                    "-f", "-",
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
            *memory,
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
        """Decompress a custom or tar dump into the drill's folder (pg_restore cannot read
        through gzip), within the folder's free space: a bomb stops at the disk's end."""
        unpack = decompressor(detected.compression)
        assert unpack is not None
        folder = os.path.join(self.folder, "unpacked")
        self.entry.add_folder(self.folder)
        await lanes.BACKUPS.run(os.makedirs, folder, 0o700)
        target = os.path.join(folder, "dump")
        shell = [tools.which(unpack[0]), *unpack[1:], "--", path]
        free = (await lanes.BACKUPS.run(shutil.disk_usage, folder)).free
        run = await _write_to(shell, target, limit, self.entry, most=int(free * 0.9))
        return target, run

    async def inventory(self, deadline: float) -> Inventory:
        import psycopg
        from psycopg import sql

        connection = await self.connect(self.name, deadline, as_role=True)
        found = Inventory()
        async with connection:
            await _statement_timeout(connection, deadline)
            rows = await (
                await connection.execute(
                    "select n.nspname, c.relname from pg_catalog.pg_class c "
                    "join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
                    "where c.relkind in ('r', 'p') and not c.relispartition "
                    "and n.nspname not in ('pg_catalog', 'information_schema') "
                    "and n.nspname not like 'pg\\_toast%' order by 1, 2"
                )
            ).fetchall()
            for index, (schema, table) in enumerate(rows):
                if index >= MAX_COUNTED:
                    found.uncounted = len(rows) - MAX_COUNTED
                    break
                await _statement_timeout(connection, deadline)
                try:
                    cursor = await connection.execute(
                        sql.SQL("select pg_catalog.count(*) from {}.{}").format(
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

        connection = await self.connect(self.name, deadline, as_role=True)
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
        """Every B-tree index through ``bt_index_check``: the extension is made (by the
        admin user) in a schema of the drill's own with a random name, its function called
        by that schema's name, by the drill's role (granted it), so nothing the dump defined
        can stand in for it or run with more rights than the dump's own."""
        import psycopg
        from psycopg import sql

        schema = f"wk_amcheck_{secrets.token_hex(4)}"
        admin = await self.connect(self.name, deadline)
        async with admin:
            try:
                await admin.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
                await admin.execute(
                    sql.SQL("create extension amcheck schema {}").format(sql.Identifier(schema))
                )
                if self.isolate:
                    await admin.execute(
                        sql.SQL("grant usage on schema {} to {}").format(
                            sql.Identifier(schema), sql.Identifier(self.name)
                        )
                    )
                    await admin.execute(
                        sql.SQL(
                            "grant execute on function {}.bt_index_check(pg_catalog.regclass) to {}"
                        ).format(sql.Identifier(schema), sql.Identifier(self.name))
                    )
            except psycopg.Error as exc:
                return 0, [], f"amcheck is not available: {_describe(exc)}"
        connection = await self.connect(self.name, deadline, as_role=True)
        async with connection:
            indexes = await (
                await connection.execute(
                    "select c.oid, n.nspname || '.' || c.relname from pg_catalog.pg_index i "
                    "join pg_catalog.pg_class c on c.oid = i.indexrelid "
                    "join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
                    "join pg_catalog.pg_am a on a.oid = c.relam "
                    "where a.amname = 'btree' and i.indisvalid and i.indisready "
                    "and c.relpersistence != 't' "
                    "and n.nspname not in ('pg_catalog', 'information_schema') "
                    "and n.nspname not like 'pg\\_toast%'"
                )
            ).fetchall()
            problems: list[str] = []
            check = sql.SQL("select {}.bt_index_check(%s::pg_catalog.oid::pg_catalog.regclass)")
            for oid, name in indexes:
                await _statement_timeout(connection, deadline)
                try:
                    await connection.execute(check.format(sql.Identifier(schema)), (int(oid),))
                except psycopg.Error as exc:
                    problems.append(f"index {name}: {_describe(exc)}")
            return len(indexes), problems, None

    async def drop(self) -> None:
        if not self.created:
            return
        if not await drop_marked(self, self.name, self.entry):
            raise ScratchError(f"{self.name} on {self.server} could not be dropped")


SCRATCH_NAME = re.compile(r"wk_drill_[a-z0-9_]*_[0-9]{14}[0-9a-f]{6}")
"""What every scratch database (and role) is named: ``scratch.scratch_name``."""


async def drop_marked(target: PostgresDatabase, name: str, entry: Entry) -> bool:
    """Drop the scratch database ``name`` and the role of that name, which ``entry`` (the
    drill's ledger entry) made: only a name of the scratch pattern that ends with the
    entry's id, and a database whose oid is the one recorded when it was made (a comment
    would not do: the dump, owner of the database, could change it). True when both are
    gone."""
    from psycopg import sql

    if not SCRATCH_NAME.fullmatch(name) or not name.endswith(entry.id):
        return False
    recorded = (entry.database or {}).get("oid")
    deadline = time.monotonic() + 60
    admin_db = str(target.params.get("dbname") or "postgres")
    connection = await target.connect(admin_db, deadline)
    async with connection:
        row = await (
            await connection.execute("select oid from pg_database where datname = %s", (name,))
        ).fetchone()
        if row is not None:
            if recorded is not None and int(row[0]) != int(recorded):
                return False  # another database of that name: not the one this drill made
            await connection.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
        role = await (
            await connection.execute("select 1 from pg_roles where rolname = %s", (name,))
        ).fetchone()
        if role is not None:
            await connection.execute(sql.SQL("drop owned by {}").format(sql.Identifier(name)))
            await connection.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))
    return True


def _verifier(role: str, password: str) -> str:
    """The SCRAM verifier of ``password``: what ``create role`` is sent, so a server that
    logs DDL logs no password."""
    import base64
    import hashlib
    import hmac

    salt = secrets.token_bytes(16)
    iterations = 4096
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


_RESTRICT: list[bool] = []


async def _restrict_supported() -> None:
    """psql's ``\\restrict`` came with 17.6, 16.10, 15.14, 14.19 and 13.22 (August 2025):
    an older psql cannot be kept from running a dump's backslash commands, so it is not
    used at all."""
    if not _RESTRICT:
        run = await tools.run_tool([pg_tool("psql"), "--version"], limit=10.0)
        if run.timed_out or not run.ok:
            raise ScratchError("psql --version did not answer")
        _RESTRICT.append(_restrict_in(run.stdout.decode("utf-8", "replace")))
    if not _RESTRICT[0]:
        raise ScratchError(
            "this psql cannot restrict a dump's backslash commands (\\restrict needs psql "
            "17.6, 16.10, 15.14, 14.19, 13.22 or later): a plain dump is not restored with it"
        )


def _restrict_in(version: str) -> bool:
    match = re.search(r"(\d+)\.(\d+)", version)
    if match is None:
        return False
    major, minor = int(match.group(1)), int(match.group(2))
    needed = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}
    return major >= 18 or (major in needed and minor >= needed[major])


async def _statement_timeout(connection: Any, deadline: float) -> None:
    left = max(1, int((deadline - time.monotonic()) * 1000))
    await connection.execute(f"set statement_timeout = {left}")


async def _write_to(
    argv: list[str], target: str, limit: float, entry: Entry, *, most: int | None = None
) -> tools.Run:
    """Run ``argv`` with its stdout written to the file ``target`` — at most ``most`` bytes
    of it (``prlimit --fsize``: a decompression bomb stops there, not at the disk's end)."""
    if most is not None and shutil.which("prlimit"):
        argv = ["prlimit", f"--fsize={max(1, most)}", "--", *argv]
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
    ledger_engine = "postgres-cluster"

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
        # its log goes to a file: a pipe nobody drains would stop the server when full;
        # made by root before the server starts, never through a link planted in the folder
        log_file = os.open(
            self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600
        )
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
        """Stop the server (SIGQUIT: an immediate shutdown that still frees its shared
        memory; SIGKILL after a few seconds) and remove its folder."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGQUIT)
            try:
                await asyncio.wait_for(self.process.wait(), 5.0)
            except TimeoutError:
                tools.kill_session(self.process.pid)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.process.wait(), 10.0)
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
    """The whole environment of initdb and the private server (run as postgres, which could
    read Watchkeeper's own, ``${VAR}`` secrets included, in /proc)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
