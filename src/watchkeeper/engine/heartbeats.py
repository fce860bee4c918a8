"""The ping side of heartbeat monitors: their state in memory, rebuilt from the store at
start, and durable writes of every ping.

A ping is answered only after it is committed. Pings that arrive together are committed
together (one transaction for all that waited while the previous one was written), so the
rate is bounded by the store's commits per second times the batch, not by one commit per
ping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from watchkeeper.checks import Resources
from watchkeeper.checks.heartbeat import Beats, HeartbeatSettings, Registry
from watchkeeper.config import Monitor
from watchkeeper.store import Store
from watchkeeper.store import pings as db

log = logging.getLogger("watchkeeper.engine")
MAX_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Received:
    monitor: str
    kind: str
    duration: float | None


class Heartbeats:
    def __init__(self, store: Store, resources: Resources) -> None:
        self.store = store
        self.registry: Registry = resources.shared("heartbeat.registry", Registry)
        self._ids: dict[str, int] = {}
        self._settings: dict[str, HeartbeatSettings] = {}
        self._waiting: list[tuple[db.Ping, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    # -- life cycle --------------------------------------------------------------------------
    def load(self, monitors: Iterable[Monitor]) -> None:
        """Register heartbeat monitors: their UUIDs (made once and kept) and the state their
        newest stored pings describe. Blocking: call it in a thread."""
        now = time.time()
        for monitor in monitors:
            if monitor.kind != "heartbeat":
                continue
            settings = monitor.settings
            assert isinstance(settings, HeartbeatSettings)
            monitor_id = self.store.monitor_id(monitor.name, monitor.kind)
            with self.store.transaction() as connection:
                uuid, since = db.ensure_uuid(connection, monitor_id, settings.uuid, now)
                history = db.recent(connection, monitor_id)
            beats = Beats(since=since)
            for ping in history:
                beats.record(ping.kind, ping.ts, ping.rid or "", ping.exit_code)
            for stale in [u for u, name in self.registry.by_uuid.items() if name == monitor.name]:
                del self.registry.by_uuid[stale]
            self.registry.add(monitor.name, uuid, beats)
            self._ids[monitor.name] = monitor_id
            self._settings[monitor.name] = settings

    def forget(self, name: str) -> None:
        self.registry.beats.pop(name, None)
        for stale in [u for u, n in self.registry.by_uuid.items() if n == name]:
            del self.registry.by_uuid[stale]

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._write_loop())

    async def stop(self) -> None:
        if self._task is not None:
            await asyncio.wait_for(self._idle.wait(), None)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # -- pings -------------------------------------------------------------------------------
    def settings_for(self, uuid: str) -> HeartbeatSettings | None:
        name = self.registry.by_uuid.get(uuid)
        return None if name is None else self._settings.get(name)

    async def ping(
        self,
        uuid: str,
        kind: str,
        *,
        exit_code: int | None = None,
        rid: str = "",
        body: str | None = None,
        source: str | None = None,
    ) -> Received | None:
        """Record a ping durably; None when no monitor has that UUID. Raises StoreError when
        the store does not take it (the sender should try again)."""
        name = self.registry.by_uuid.get(uuid)
        if name is None:
            return None
        beats = self.registry.beats[name]
        now = time.time()
        duration = beats.record(kind, now, rid, exit_code)
        ping = db.Ping(self._ids[name], now, kind, exit_code, rid or None, duration, body, source)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((ping, done))
        self._idle.clear()
        self._wake.set()
        await done
        return Received(name, kind, duration)

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                try:
                    await asyncio.to_thread(self._write, [ping for ping, _ in batch])
                except Exception as exc:
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                self.written += len(batch)
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
            self._idle.set()

    def _write(self, batch: list[db.Ping]) -> None:
        with self.store.transaction() as connection:
            db.add(connection, batch)
