"""The drill ledger: what a running drill has created, written down before it is created, so
that whatever kills Watchkeeper mid-drill (``kill -9``, a power cut), the next start finds
it and removes it: the scratch database, the private cluster's or redis-server's folder,
and the processes still running (the restore tool, the server).

One small JSON file per drill in the ledger folder (``$XDG_STATE_HOME/watchkeeper/drills``,
by default ``~/.local/state/watchkeeper/drills``; ``WATCHKEEPER_STATE`` overrides the
whole path). A file names the process that owns it (pid and start time): a drill whose
owner still runs is never touched, so ``wk drill`` beside ``wk up`` is safe.

A scratch database (and the drill's own user or role) is dropped only when its name has the
scratch pattern and ends with the entry's id (and, on PostgreSQL, it has the oid recorded
when it was made): a comment would not do, the restored dump owns its database and could
rewrite it. Nothing here ever drops a database that a drill did not create.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.backup import tools

log = logging.getLogger("watchkeeper.backup")


def folder() -> str:
    explicit = os.environ.get("WATCHKEEPER_STATE")
    if explicit:
        return os.path.join(explicit, "drills")
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "watchkeeper", "drills")


@dataclass(slots=True)
class Entry:
    """One drill's record of what it made."""

    id: str
    monitor: str
    owner: int
    owner_started: int | None
    started_at: float
    database: dict[str, str] | None = None
    """``{"engine": "postgres"|"mariadb", "name": ..., "server": host:port}``."""
    folders: list[str] = field(default_factory=list)
    processes: list[tuple[int, int | None]] = field(default_factory=list)
    """(pid, start time) of every process started: each leads its own session."""
    path: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "monitor": self.monitor,
            "owner": self.owner,
            "owner_started": self.owner_started,
            "started_at": self.started_at,
            "database": self.database,
            "folders": self.folders,
            "processes": self.processes,
        }

    def save(self) -> None:
        """Write the entry (atomically: a crash mid-write leaves the previous version; a
        killed process's writes survive it in the page cache, so no fsync)."""
        partial = f"{self.path}.{os.getpid()}.tmp"
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(self.as_json(), handle)
        os.replace(partial, self.path)

    # what the drill announces, each saved before it is used
    def add_process(self, pid: int) -> None:
        self.processes.append((pid, tools.start_time(pid)))
        self.save()

    def add_folder(self, path: str) -> None:
        self.folders.append(path)
        self.save()

    def set_database(self, engine: str, name: str, server: str) -> None:
        self.database = {"engine": engine, "name": name, "server": server}
        self.save()

    def database_oid(self, oid: int) -> None:
        """The scratch database's oid once made: the sweep drops only that very one."""
        if self.database is not None:
            self.database["oid"] = str(oid)
            self.save()

    def close(self) -> None:
        """The drill cleaned up after itself: forget it."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def open_entry(monitor: str) -> Entry:
    """A new ledger entry for a drill of ``monitor`` (written at once)."""
    where = folder()
    os.makedirs(where, mode=0o700, exist_ok=True)
    drill_id = f"{time.strftime('%Y%m%d%H%M%S', time.gmtime())}{secrets.token_hex(3)}"
    entry = Entry(
        id=drill_id,
        monitor=monitor,
        owner=os.getpid(),
        owner_started=tools.start_time(os.getpid()),
        started_at=time.time(),
        path=os.path.join(where, f"{drill_id}.json"),
    )
    entry.save()
    return entry


async def open_entry_async(monitor: str) -> Entry:
    """``open_entry`` on the backups lane (the state folder may be slow to write)."""
    from watchkeeper import lanes

    return await lanes.BACKUPS.run(open_entry, monitor)


def load(path: str) -> Entry | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return Entry(
            id=str(data["id"]),
            monitor=str(data["monitor"]),
            owner=int(data["owner"]),
            owner_started=data.get("owner_started"),
            started_at=float(data["started_at"]),
            database=data.get("database"),
            folders=[str(f) for f in data.get("folders") or []],
            processes=[(int(p), s) for p, s in data.get("processes") or []],
            path=path,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


DropDatabase = Callable[[Entry], Awaitable[bool]]
"""Drops an entry's scratch database (if it bears the entry's mark); False when it cannot
(its server is unknown to this config or does not answer): the entry is kept for later."""


async def sweep(drop: DropDatabase) -> list[str]:
    """Remove what drills whose owner is gone left behind. Returns one line per drill
    cleaned (``orders-backup: killed 2 processes, dropped wk_drill_..., removed 1 folder``)."""
    from watchkeeper import lanes

    cleaned: list[str] = []
    for path in await lanes.BACKUPS.run(_entries, folder()):
        entry = await lanes.BACKUPS.run(load, path)
        if entry is None:
            log.warning("drill ledger: %s cannot be read; left in place", path)
            continue
        if tools.alive(entry.owner, entry.owner_started):
            continue
        cleaned.append(await clean(entry, drop))
    return cleaned


async def clean(entry: Entry, drop: DropDatabase) -> str:
    """Undo what ``entry`` records: kill its processes, drop its database, remove its
    folders; forget it once all is gone."""
    done: list[str] = []
    killed = 0
    for pid, started in entry.processes:
        if tools.alive(pid, started):
            tools.kill_session(pid)
            killed += 1
    if killed:
        done.append(f"killed {killed} process{'es' if killed > 1 else ''}")
    complete = True
    if entry.database is not None:
        try:
            dropped = await drop(entry)
        except Exception as exc:  # a server that went away: try again at the next sweep
            log.warning("drill %s: dropping %s failed: %s", entry.id, entry.database, exc)
            dropped = False
        if dropped:
            done.append(f"dropped {entry.database.get('name')}")
        else:
            complete = False
    for path in entry.folders:
        if await remove_tree(path):
            done.append(f"removed {path}")
    if complete:
        entry.close()
    what = ", ".join(done) or "nothing left"
    return f"{entry.monitor}: {what}" + ("" if complete else " (database kept: retried later)")


def _entries(where: str) -> list[str]:
    """The ledger's entry files (half-written leftovers older than an hour are removed)."""
    try:
        names = sorted(os.listdir(where))
    except FileNotFoundError:
        return []
    found: list[str] = []
    for name in names:
        path = os.path.join(where, name)
        if name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                if time.time() - os.path.getmtime(path) > 3600:
                    os.unlink(path)
        elif name.endswith(".json"):
            found.append(path)
    return found


def _remove(path: str) -> bool:
    if not os.path.lexists(path):
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


async def remove_tree(path: str) -> bool:
    """Remove the folder ``path`` (on the backups lane); False when it was not there."""
    from watchkeeper import lanes

    return await lanes.BACKUPS.run(_remove, path)
