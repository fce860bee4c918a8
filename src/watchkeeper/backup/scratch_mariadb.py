"""A scratch database on a MariaDB/MySQL server the config names (``into: mysql://...``).

The dump is fed to the ``mariadb`` client (``mysql`` where that is what is installed)
through the decompressor and the safety filter (``scratch.MARIADB_FILTER``) by pipes, with
``--database`` naming the scratch database. The password goes in a 0600 option file in the
work folder, never on a command line. PyMySQL (on the backups lane) creates, counts, runs
the verification queries and drops.

The client runs in its ``--sandbox`` (no ``system``, ``\\!``, ``source`` or ``tee`` from the
dump) and with ``--local-infile=0`` (no ``LOAD DATA LOCAL`` reading Watchkeeper's files): a
client without ``--sandbox`` is refused, never used. The restore runs as a user of the
drill's own, ``wkd_<drill id>`` (24 characters: MySQL allows 32).

A scratch database is the drill's when its name says so: ``wk_drill_<slug>_<drill id>``,
the id of the ledger entry that names it. Its comment repeats the mark as a label only: the
restored dump may rewrite it (``ALTER DATABASE ... COMMENT``), so nothing trusts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from watchkeeper import lanes
from watchkeeper.backup import tools
from watchkeeper.backup.formats import Detected, decompressor
from watchkeeper.backup.ledger import Entry
from watchkeeper.backup.scratch import (
    MARIADB_FILTER,
    MARK,
    NO_DEFINER,
    Inventory,
    Restored,
    Scratch,
    ScratchError,
    sed,
)

MAX_COUNTED = 2000

SCRATCH_NAME = re.compile(r"^wk_drill_[a-z0-9_]*_[0-9]{14}[0-9a-f]{6}$")
"""The name of a drill's scratch database (``scratch.scratch_name``)."""
DRILL_ID = re.compile(r"^[0-9]{14}[0-9a-f]{6}$")
"""A ledger entry's id: UTC time to the second, then six hex digits."""

SANDBOX_VERSIONS = "MariaDB 10.5.25, 10.6.18, 10.11.8, 11.0.6 or later"


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MariadbDatabase(Scratch):
    engine = "mariadb"

    def __init__(self, entry: Entry, workdir: str, url: str, *, isolate: bool = True) -> None:
        super().__init__(entry, workdir)
        self.isolate = isolate
        """Restore as a user of the drill's own with rights on the scratch database only
        (``DEFINER=`` clauses, which would need more, are left out of the dump)."""
        self.role_password = secrets.token_urlsafe(24)
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 3306
        self.user = unquote(parts.username or "root")
        self.password = unquote(parts.password or "")
        self.server = f"{self.host}:{self.port}"
        self.role = role_name(entry.id)
        """The drill's own user (``wkd_<drill id>``; a database name would pass MySQL's
        32-character limit on user names)."""
        self.client: str | None = None
        """The sandboxed client (its path), found by ``create``."""
        self._creating: asyncio.Future[None] | None = None
        """``_create`` on the backups lane: it runs on after a cancellation, so the clean-up
        waits for it before it drops what it made."""
        # the client's option file (its password) in the drill's folder: in the ledger, so
        # a crash mid-drill leaves no password behind after the next start
        self.options = os.path.join(self.folder, "client.cnf")

    @property
    def label(self) -> str:
        return f"database {self.name} on {self.server}"

    def _connect(self, deadline: float, database: str | None = None) -> Any:
        import pymysql

        timeout = max(1, min(30, int(deadline - time.monotonic())))
        try:
            return pymysql.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                database=database,
                connect_timeout=timeout,
                # a statement that hangs must not hold up the clean-up that waits for it
                read_timeout=max(1, min(300, int(deadline - time.monotonic()))),
                write_timeout=timeout,
                autocommit=True,
            )
        except pymysql.MySQLError as exc:
            raise ScratchError(f"cannot connect to {self.server}: {_describe(exc)}") from None

    async def create(self, deadline: float) -> None:
        # refused before anything is made: a dump never meets an unsandboxed client
        self.client = await sandboxed_client()
        await self.make_folder()
        self.entry.set_database("mariadb", self.name, self.server)
        self._creating = asyncio.ensure_future(lanes.BACKUPS.run(self._create, deadline))
        await asyncio.shield(self._creating)

    def _create(self, deadline: float) -> None:
        import pymysql

        connection = self._connect(deadline)
        try:
            with connection.cursor() as cursor:
                try:
                    cursor.execute(
                        f"create database {_quote(self.name)} comment %s",
                        (MARK + self.entry.id,),
                    )
                except pymysql.err.ProgrammingError:  # before MariaDB 10.5: no comments
                    cursor.execute(f"create database {_quote(self.name)}")
                if self.isolate:
                    cursor.execute(
                        "create user %s@'%%' identified by %s", (self.role, self.role_password)
                    )
                    cursor.execute(
                        f"grant all privileges on {_quote(self.name)}.* to %s@'%%'", (self.role,)
                    )
        except pymysql.MySQLError as exc:
            raise ScratchError(
                f"cannot create a scratch database on {self.server}: {_describe(exc)}"
            ) from None
        finally:
            connection.close()

    def _client(self, client: str) -> list[str]:
        with open(os.open(self.options, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write("[client]\n")
            user, password = (
                (self.role, self.role_password) if self.isolate else (self.user, self.password)
            )
            f.write(f"host={self.host}\nport={self.port}\nuser={user}\n")
            if password:
                escaped = password.replace("\\", "\\\\").replace('"', '\\"')
                f.write(f'password="{escaped}"\n')
        return [
            client,
            # only the drill's own options: not /etc/mysql nor ~/.my.cnf (which may turn
            # on what the sandbox leaves alone, or name another server or database)
            f"--defaults-file={self.options}",
            "--protocol=TCP",
            "--batch",
            "--silent",
            f"--database={self.name}",
            "--sandbox",
            "--local-infile=0",
        ]

    async def restore(self, path: str, detected: Detected, *, jobs: int, limit: float) -> Restored:
        commands: list[list[str]] = []
        unpack = decompressor(detected.compression)
        if unpack is not None:
            commands.append([tools.which(unpack[0]), *unpack[1:], "--", path])
        expressions = MARIADB_FILTER + (NO_DEFINER if self.isolate else [])
        commands.append([*sed(expressions), *([] if unpack else ["--", path])])
        client = self.client or await sandboxed_client()
        commands.append(await lanes.BACKUPS.run(self._client, client))
        try:
            run = await tools.pipeline(commands, limit=limit, on_start=self.entry.add_process)
        finally:
            _unlink(self.options)
        return Restored(run)

    async def inventory(self, deadline: float) -> Inventory:
        return await lanes.BACKUPS.run(self._inventory, deadline)

    def _inventory(self, deadline: float) -> Inventory:
        import pymysql

        found = Inventory()
        connection = self._connect(deadline, self.name)
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = %s and table_type = 'BASE TABLE' order by 1",
                    (self.name,),
                )
                tables = [str(row[0]) for row in cursor.fetchall()]
                for index, table in enumerate(tables):
                    if index >= MAX_COUNTED:
                        found.uncounted = len(tables) - MAX_COUNTED
                        break
                    cursor.execute(f"select count(*) from {_quote(table)}")
                    row = cursor.fetchone()
                    found.counts[table] = int(row[0]) if row else 0
        except pymysql.MySQLError as exc:
            raise ScratchError(f"counting rows: {_describe(exc)}") from None
        finally:
            connection.close()
        return found

    async def query(self, text: str, deadline: float) -> Any:
        return await lanes.BACKUPS.run(self._query, text, deadline)

    def _query(self, text: str, deadline: float) -> Any:
        import pymysql

        connection = self._connect(deadline, self.name)
        try:
            with connection.cursor() as cursor:
                cursor.execute("set session transaction read only")
                left = max(1.0, deadline - time.monotonic())
                with contextlib.suppress(pymysql.MySQLError):  # MySQL has no such variable
                    cursor.execute(f"set session max_statement_time = {left:.0f}")
                cursor.execute(text)
                row = cursor.fetchone() if cursor.description else None
        except pymysql.MySQLError as exc:
            raise ScratchError(_describe(exc)) from None
        finally:
            connection.close()
        return None if not row else row[0]

    async def drop(self) -> None:
        """Drop the database and the user; ScratchError when they could not be (the ledger
        entry is then kept for the next sweep)."""
        await lanes.BACKUPS.run(_unlink, self.options)
        if self._creating is not None:
            # still creating after a cancellation: what it makes is dropped after it
            await asyncio.wait([self._creating])
            if not self._creating.cancelled():
                self._creating.exception()  # the drill has reported it already
        if self.entry.database is None:  # nothing was (or is being) made
            return
        if not await lanes.BACKUPS.run(drop_marked, self, self.name, self.entry.id):
            raise ScratchError(f"{self.name} was not dropped: its name is not this drill's")


def _client_path() -> str:
    try:
        return tools.which("mariadb")
    except tools.ToolMissing:
        return tools.which("mysql")


_SANDBOX: dict[str, bool] = {}
"""Does the client at this path take ``--sandbox``? Only a definite answer (its ``--help``
ran to the end) is kept: a probe that failed or timed out is asked again next time."""


async def sandboxed_client() -> str:
    """The path of a client that takes ``--sandbox`` (MariaDB 10.5.25, 10.6.18, 10.11.8,
    11.0.6 and later). In it the client refuses ``system``, ``\\!``, ``source`` and ``tee``
    from the dump: a crafted dump runs no shell command and reads or writes no file.
    ScratchError when the client has none (the Oracle mysql client has none) or cannot
    say: a dump is never run through a client without it."""
    client = await lanes.BACKUPS.run(_client_path)
    if client not in _SANDBOX:
        seen: list[bool] = []

        def line(text: bytes) -> None:
            if text.lstrip().startswith(b"--sandbox"):
                seen.append(True)

        run = await tools.pipeline([[client, "--help"]], limit=10.0, on_line=line)
        if not run.ok:
            raise ScratchError(
                f"cannot tell whether {client} has --sandbox: {run.failure()}; a dump is "
                "restored only through a client in its sandbox"
            )
        _SANDBOX[client] = bool(seen)
    if not _SANDBOX[client]:
        raise ScratchError(
            f"{client} has no --sandbox, so a dump's shell and file commands would run: "
            f"restoring needs the mariadb client of {SANDBOX_VERSIONS} "
            "(the Oracle mysql client has none)"
        )
    return client


def role_name(drill_id: str) -> str:
    """The drill's own user: ``wkd_<drill id>``."""
    return f"wkd_{drill_id}"


def is_scratch(name: str, drill_id: str) -> bool:
    """Is ``name`` the scratch database of drill ``drill_id``? By its name alone (the
    comment is the restored dump's to change)."""
    return (
        DRILL_ID.match(drill_id) is not None
        and SCRATCH_NAME.match(name) is not None
        and name.endswith(f"_{drill_id}")
    )


def drop_marked(target: MariadbDatabase, name: str, drill_id: str) -> bool:
    """Drop ``name`` and the user ``wkd_<drill id>`` if ``name`` is drill ``drill_id``'s
    scratch database; False (nothing touched) when it is not. ``name`` and ``drill_id``
    come from the drill's own ledger entry."""
    import pymysql

    if not is_scratch(name, drill_id):
        return False
    connection = target._connect(time.monotonic() + 60)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"drop database if exists {_quote(name)}")
            cursor.execute("drop user if exists %s@'%%'", (role_name(drill_id),))
    except pymysql.MySQLError as exc:
        raise ScratchError(f"dropping {name}: {_describe(exc)}") from None
    finally:
        connection.close()
    return True


def _describe(exc: BaseException) -> str:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[1], str):
        return args[1].splitlines()[0] if args[1] else type(exc).__name__
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
