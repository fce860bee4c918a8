"""Scratch targets: where a drill restores a backup. Each is created by the drill, marked as
the drill's own, and removed by it afterwards (or by the next start's sweep, see
``ledger``). A drill never writes anywhere else: a dump that would switch database
(``\\connect``, ``USE``, ``CREATE DATABASE``) has those lines turned into comments on the way
in, and ownership and grants are left out as ``pg_restore --no-owner --no-privileges`` does.

    PostgresDatabase  a scratch database on a PostgreSQL server the config names
    PostgresCluster   a private cluster: initdb + postgres on a free port, Unix socket only
    MariadbDatabase   a scratch database on a MariaDB/MySQL server the config names
    RedisServer       a throwaway redis-server loading the RDB file (``redis``)
"""

from __future__ import annotations

import abc
import os
import re
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.backup import tools
from watchkeeper.backup.formats import Detected
from watchkeeper.backup.ledger import Entry


class ScratchError(Exception):
    """The scratch target could not be made or reached (one line)."""


@dataclass(slots=True)
class Restored:
    """What a restore did: the tools' run, and any line the drill should keep."""

    run: tools.Run
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Inventory:
    """What the restored data holds: rows per table (keys per database for Redis)."""

    counts: dict[str, int] = field(default_factory=dict)
    uncounted: int = 0
    """Tables past the counting cap (their rows are not known)."""


class Scratch(abc.ABC):
    """A place a backup is restored into, for one drill."""

    engine: str = ""
    """``postgres``, ``mariadb`` or ``redis``: the kind of data it holds."""
    local: bool = False
    """Does the restored data land in ``workdir`` (so its free space is checked)?"""

    def __init__(self, entry: Entry, workdir: str) -> None:
        self.entry = entry
        self.workdir = workdir
        self.name = scratch_name(entry)
        self.folder = os.path.join(workdir, f"wk-drill-{entry.id}")
        """The drill's own folder in ``workdir`` (a cluster, a copy, a client's options)."""

    async def make_folder(self) -> None:
        """Make ``folder`` (private to this user), in the ledger before it exists."""
        from watchkeeper import lanes

        self.entry.add_folder(self.folder)
        await lanes.BACKUPS.run(os.makedirs, self.folder, 0o700)

    @property
    @abc.abstractmethod
    def label(self) -> str:
        """What it is, for the drill's log: ``database wk_drill_... on 127.0.0.1:5432``."""

    @abc.abstractmethod
    async def create(self, deadline: float) -> None: ...

    @abc.abstractmethod
    async def restore(self, path: str, detected: Detected, *, jobs: int, limit: float) -> Restored:
        """Restore the backup at ``path``, in at most ``limit`` seconds."""

    @abc.abstractmethod
    async def inventory(self, deadline: float) -> Inventory: ...

    @abc.abstractmethod
    async def query(self, text: str, deadline: float) -> Any:
        """The first value of the first row ``text`` returns (a Redis command's reply)."""

    async def amcheck(self, deadline: float) -> tuple[int, list[str], str | None]:
        """(indexes checked, problems found, why it could not run); PostgreSQL only."""
        return 0, [], "not a PostgreSQL restore"

    @abc.abstractmethod
    async def drop(self) -> None:
        """Remove everything it made (called always, also after a failure)."""


def scratch_name(entry: Entry) -> str:
    """``wk_drill_<slug of the monitor>_<drill id>``, at most 63 characters (PostgreSQL's
    limit; MariaDB's is 64), lower-case ASCII only."""
    slug = re.sub(r"[^a-z0-9]+", "_", entry.monitor.lower()).strip("_")[:24] or "backup"
    return f"wk_drill_{slug}_{entry.id}"[:63]


MARK = "watchkeeper drill "
"""Prefix of the comment on a scratch database; the drill's id follows."""

POSTGRES_FILTER = [
    # COPY data passes untouched: a row may begin with any word
    r"/^COPY .* FROM stdin;$/,/^\\\.$/b",
    r"/^\\c(onnect)?( |$)/s/^/-- drill: /",
    # the dump's own \restrict pair (pg_dump since 2025-08) gives way to the drill's
    r"/^\\(un)?restrict /s/^/-- drill: /",
    r"/^[[:space:]]*(CREATE|DROP|ALTER) (DATABASE|ROLE|USER|GROUP|TABLESPACE) /Is/^/-- drill: /",
    r"/^[[:space:]]*(COMMENT|SECURITY LABEL) ON DATABASE /Is/^/-- drill: /",
    r"/^ALTER .* OWNER TO /s/^/-- drill: /",
    r"/^ALTER DEFAULT PRIVILEGES /s/^/-- drill: /",
    r"/^(GRANT|REVOKE) /s/^/-- drill: /",
    r"/^SET SESSION AUTHORIZATION /s/^/-- drill: /",
]
"""sed -E expressions a plain PostgreSQL dump passes through on its way into psql: no
switching database, no roles it would need (``--no-owner --no-privileges``). psql itself
runs restricted (``\\restrict`` with a key of the drill's, before the dump): no backslash
command of the dump runs at all (``\\!`` would run a shell, ``\\o`` write a file)."""

MARIADB_FILTER = [
    r"/^(USE |CREATE DATABASE |DROP DATABASE )/s/^/-- drill: /",
    r"/^\/\*!4[0-9]{4} (CREATE|DROP) DATABASE /s/^/-- drill: /",
]
"""sed -E expressions for a MariaDB/MySQL dump: ``--databases`` dumps carry ``CREATE
DATABASE`` and ``USE``, which would restore into the source's database."""

NO_DEFINER = [r"s/DEFINER=`([^`]|``)*`@`([^`]|``)*`//g"]
"""Views, triggers and routines restored as the drill's own user: their ``DEFINER=`` would
need rights on other accounts (the restored objects are defined by the drill's user)."""


def sed(expressions: list[str]) -> list[str]:
    argv = [tools.which("sed"), "-E"]
    for expression in expressions:
        argv += ["-e", expression]
    return argv
