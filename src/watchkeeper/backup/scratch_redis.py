"""A throwaway redis-server that loads an RDB snapshot (``into: redis``).

The snapshot is copied (or decompressed) into a folder of the drill's own, and a
redis-server of the newest installed version starts with that
folder as its ``dir``, persistence off, listening on a Unix socket in that folder only
(no TCP port to collide with or to expose), so it reads the file and never writes it. The
restore is done when the server answers PING instead of LOADING; a snapshot it cannot read
stops it, and its log's last line says why. Verification "queries" are Redis commands
(``DBSIZE``, ``EXISTS config:flags``), read-only ones only (``READS``); inventory is the keys
per database.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import time
from typing import Any

from watchkeeper import lanes
from watchkeeper.backup import tools
from watchkeeper.backup.formats import Detected, decompressor
from watchkeeper.backup.ledger import Entry
from watchkeeper.backup.scratch import Inventory, Restored, Scratch, ScratchError
from watchkeeper.backup.scratch_postgres import _write_to


class RedisServer(Scratch):
    engine = "redis"

    def __init__(self, entry: Entry, workdir: str) -> None:
        super().__init__(entry, workdir)
        self.socket = os.path.join(self.folder, "redis.sock")
        self.process: asyncio.subprocess.Process | None = None
        self.client: Any = None

    @property
    def label(self) -> str:
        return f"redis-server in {self.folder}"

    local = True

    async def create(self, deadline: float) -> None:
        await self.make_folder()

    async def restore(self, path: str, detected: Detected, *, jobs: int, limit: float) -> Restored:
        started = time.monotonic()
        deadline = started + limit
        target = os.path.join(self.folder, "dump.rdb")
        unpack = decompressor(detected.compression)
        if unpack is not None:
            argv = [tools.which(unpack[0]), *unpack[1:], "--", path]
        else:
            argv = [tools.which("cat"), "--", path]
        copied = await _write_to(argv, target, limit, self.entry)
        if not copied.ok:
            return Restored(copied)
        log_path = os.path.join(self.folder, "redis.log")
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
            *server,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
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
                return _last_line(log_path) or f"redis-server exited ({self.process.returncode})"
            if time.monotonic() > deadline:
                return "timeout"
            try:
                if await self.client.ping():
                    return None
            except (BusyLoadingError, ConnectionError, TimeoutError, OSError):
                pass
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


def _last_line(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 4096))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        lowered = line.lower()
        if "#" in line and any(word in lowered for word in ("error", "fatal", "short")):
            return line.split(" # ", 1)[-1].strip()[:300]
    return lines[-1].split(" # ", 1)[-1].strip()[:300] if lines else ""
