"""A throwaway redis-server that loads an RDB snapshot (``into: redis``).

The snapshot is copied (or decompressed) into a folder of the drill's own, and a
redis-server of the newest installed version starts with that
folder as its ``dir``, persistence off, listening on a Unix socket in that folder only
(no TCP port to collide with or to expose), so it reads the file and never writes it. The
restore is done when the server answers PING instead of LOADING; a snapshot it cannot read
stops it, and its log's last line says why. Verification "queries" are Redis commands
(``DBSIZE``, ``EXISTS config:flags``), read-only ones only (``READS``); inventory is the keys
per database.

The snapshot is hostile: a Redis 7 RDB carries FUNCTION libraries whose Lua runs while it
loads. So the server never runs as root: when Watchkeeper does, it runs as the ``redis``
account (``nobody`` where there is none), owner of the drill's folder and nothing else, with
an environment of two variables (Watchkeeper's own may hold the config's secrets).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shlex
import shutil
import stat
import time
from typing import Any

from watchkeeper import lanes
from watchkeeper.backup import tools
from watchkeeper.backup.formats import Detected, decompressor
from watchkeeper.backup.ledger import Entry
from watchkeeper.backup.scratch import Inventory, Restored, Scratch, ScratchError
from watchkeeper.backup.scratch_postgres import _closed_to, _write_to

SERVER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C"}
"""All the environment redis-server gets."""


class RedisServer(Scratch):
    engine = "redis"

    def __init__(self, entry: Entry, workdir: str) -> None:
        super().__init__(entry, workdir)
        self.socket = os.path.join(self.folder, "redis.sock")
        self.process: asyncio.subprocess.Process | None = None
        self.client: Any = None
        self.account: pwd.struct_passwd | None = None
        """Whom the server runs as (None: as Watchkeeper, which is not root)."""

    @property
    def label(self) -> str:
        return f"redis-server in {self.folder}"

    local = True

    async def create(self, deadline: float) -> None:
        if os.geteuid() == 0:
            self.account = unprivileged_account()
            blocked = await lanes.BACKUPS.run(_closed_to, self.account, self.workdir)
            if blocked is not None:
                raise ScratchError(
                    f"the scratch redis-server runs as {self.account.pw_name}, which cannot "
                    f"enter {blocked}: set drill: {{workdir: ...}} to a folder it can reach"
                )
        await self.make_folder()

    async def restore(self, path: str, detected: Detected, *, jobs: int, limit: float) -> Restored:
        started = time.monotonic()
        deadline = started + limit
        target = os.path.join(self.folder, "dump.rdb")
        log_path = os.path.join(self.folder, "redis.log")
        # both made here, new (no link followed), before the folder is the server's
        await lanes.BACKUPS.run(_make_files, self.folder, (target, log_path))
        unpack = decompressor(detected.compression)
        if unpack is not None:
            argv = [tools.which(unpack[0]), *unpack[1:], "--", path]
        else:
            argv = [tools.which("cat"), "--", path]
        copied = await _write_to(argv, target, limit, self.entry)
        if not copied.ok:
            return Restored(copied)
        if self.account is not None:
            await lanes.BACKUPS.run(_hand_over, self.folder, (target, log_path), self.account)
        server = [
            tools.which("redis-server"),
            "--port", "0",
            "--unixsocket", self.socket,
            "--unixsocketperm", "700",
            "--dir", self.folder,
            "--dbfilename", "dump.rdb",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--logfile", log_path,
        ]  # fmt: skip
        self.process = await asyncio.create_subprocess_exec(
            *tools.as_user(self.account.pw_name if self.account else None),
            *server,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            env=dict(SERVER_ENV),
        )
        self.entry.add_process(self.process.pid)
        load = tools.Outcome(server)
        run = tools.Run(outcomes=[*copied.outcomes, load])
        error = await self._wait_loaded(deadline, log_path)
        run.elapsed = time.monotonic() - started
        if error == "timeout":
            run.timed_out = True
        elif error is not None:
            load.code = self.process.returncode if self.process.returncode else 1
            load.stderr = error.encode()
        else:
            load.code = 0
        return Restored(run)

    async def _wait_loaded(self, deadline: float, log_path: str) -> str | None:
        """None once the server answers PING; else why not (its log's last line)."""
        import redis.asyncio as aioredis
        from redis.exceptions import BusyLoadingError, ConnectionError, RedisError

        assert self.process is not None
        self.client = aioredis.Redis(
            unix_socket_path=self.socket, socket_timeout=10, socket_connect_timeout=2
        )
        while True:
            if self.process.returncode is not None:
                said = await lanes.BACKUPS.run(_last_line, log_path)
                return said or f"redis-server exited ({self.process.returncode})"
            if time.monotonic() > deadline:
                return "timeout"
            try:
                if await self.client.ping():
                    return None
            except (BusyLoadingError, ConnectionError, TimeoutError, OSError):
                pass  # still loading the snapshot, or its socket not there yet: ask again
            except RedisError as exc:
                return str(exc)
            await asyncio.sleep(0.05)

    async def inventory(self, deadline: float) -> Inventory:
        if self.client is None:
            raise ScratchError("the scratch redis-server is not running")
        info = await self.client.info("keyspace")
        counts = {str(db): int(stats.get("keys", 0)) for db, stats in info.items()}
        return Inventory(counts=counts)

    async def query(self, text: str, deadline: float) -> Any:
        from redis.exceptions import RedisError

        if self.client is None:
            raise ScratchError("the scratch redis-server is not running")
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise ScratchError(f"cannot read the command: {exc}") from None
        if not words:
            raise ScratchError("empty command")
        if not _allowed(words):
            shown = " ".join(words[:2]) if words[0].lower() == "memory" else words[0]
            raise ScratchError(
                f"{shown} is not allowed in a verification (read-only commands only: "
                f"{', '.join(READS_SHOWN)})"
            )
        try:
            async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
                return await self.client.execute_command(*words)
        except RedisError as exc:
            raise ScratchError(str(exc)) from None

    async def drop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        if self.process is not None and self.process.returncode is None:
            tools.kill_session(self.process.pid)
            await asyncio.wait_for(self.process.wait(), 10.0)
        await lanes.BACKUPS.run(shutil.rmtree, self.folder, True)


READS_SHOWN = (
    "DBSIZE", "EXISTS", "GET", "MGET", "TYPE", "TTL", "PTTL", "STRLEN", "GETRANGE", "HGET",
    "HMGET", "HLEN", "HEXISTS", "HKEYS", "HGETALL", "LLEN", "LINDEX", "LRANGE", "SCARD",
    "SISMEMBER", "SMEMBERS", "ZCARD", "ZSCORE", "ZRANGE", "ZCOUNT", "XLEN", "INFO", "PING",
    "SCAN", "KEYS", "RANDOMKEY", "OBJECT", "MEMORY USAGE",
)  # fmt: skip
"""The commands a verification may send: they read. Anything else is refused, so no
command that writes, runs code (``EVAL_RO`` runs Lua, ``FCALL_RO`` the snapshot's own
functions), writes files or talks to other servers reaches the scratch server."""
READS = frozenset(name.lower() for name in READS_SHOWN if " " not in name)


def _allowed(words: list[str]) -> bool:
    command = words[0].lower()
    if command == "memory":  # MEMORY USAGE only (not DOCTOR, PURGE, MALLOC-STATS...)
        return len(words) > 1 and words[1].lower() == "usage"
    return command in READS


def unprivileged_account() -> pwd.struct_passwd:
    """Whom a scratch redis-server runs as when Watchkeeper is root: ``redis``, else
    ``nobody``."""
    for name in ("redis", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ScratchError("the scratch redis-server cannot run as root and there is no redis user")


def _make_files(folder: str, paths: tuple[str, ...]) -> None:
    """Create each of ``paths`` (empty, 0600): never through a link, never one that exists."""
    for path in paths:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        except OSError as exc:
            raise ScratchError(
                f"cannot create {os.path.basename(path)} in {folder}: {exc.strerror}"
            ) from None


def _hand_over(folder: str, paths: tuple[str, ...], account: pwd.struct_passwd) -> None:
    """Give the files, then the folder, to ``account`` (links are not followed)."""
    for path in (*paths, folder):
        os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)


def _last_line(path: str) -> str:
    """The line of the server's log that says why it stopped. The log is in a folder the
    server owns: a link or a FIFO put in its place is not read."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            return ""
        os.lseek(descriptor, max(0, info.st_size - 4096), os.SEEK_SET)
        text = os.read(descriptor, 4096).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(descriptor)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        lowered = line.lower()
        if "#" in line and any(word in lowered for word in ("error", "fatal", "short")):
            return line.split(" # ", 1)[-1].strip()[:300]
    return lines[-1].split(" # ", 1)[-1].strip()[:300] if lines else ""
