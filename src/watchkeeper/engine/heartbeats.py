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
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection

from watchkeeper.checks import Resources
from watchkeeper.checks.heartbeat import Beats, HeartbeatSettings, Registry
from watchkeeper.config import Monitor
from watchkeeper.store import Store
from watchkeeper.store import pings as db

log = logging.getLogger("watchkeeper.engine")
MAX_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Claim:
    """A heartbeat monitor's ping UUID and newest pings, read in a transaction, to register
    once it commits."""

    name: str
    settings: HeartbeatSettings
    monitor_id: int
    uuid: str
    since: float
    history: list[db.Ping]


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
    def load(self, monitors: Iterable[Monitor]) -> dict[str, str]:
        """Register heartbeat monitors: their UUIDs (made once and kept) and the state their
        newest stored pings describe. Blocking: call it in a thread.

        A monitor whose UUID another of these (or an already registered) monitor holds is
        left out and logged; returns name → why for each one left out."""
        now = time.time()
        chosen = [m for m in monitors if m.kind == "heartbeat"]
        ids = {m.name: self.store.monitor_id(m.name, m.kind) for m in chosen}
        watched = {*self._ids.values(), *ids.values()}
        refused: dict[str, str] = {}
        for monitor in chosen:
            try:
                with self.store.transaction() as connection:
                    claim = self.claim(connection, monitor, ids[monitor.name], now, watched)
            except db.UuidTaken as exc:
                log.error("heartbeat monitor '%s' gets no pings: %s", monitor.name, exc)
                refused[monitor.name] = str(exc)
                continue
            self.register(claim)
        return refused

    def claim(
        self,
        connection: Connection,
        monitor: Monitor,
        monitor_id: int,
        now: float,
        watched: Collection[int] | None = None,
    ) -> Claim:
        """In the caller's transaction: the monitor's ping UUID and its newest pings. The
        UUID is taken from a monitor no longer ``watched`` (default: the registered ones);
        UuidTaken if a watched one holds it. ``register`` the claim once it commits."""
        settings = monitor.settings
        assert isinstance(settings, HeartbeatSettings)
        keep = set(self._ids.values()) if watched is None else set(watched)
        keep.discard(monitor_id)
        uuid, since = db.ensure_uuid(connection, monitor_id, settings.uuid, now, keep)
        return Claim(
            monitor.name, settings, monitor_id, uuid, since, db.recent(connection, monitor_id)
        )

    def register(self, claim: Claim) -> None:
        """Take pings for a monitor whose claim was committed."""
        beats = Beats(since=claim.since)
        for ping in claim.history:
            beats.record(ping.kind, ping.ts, ping.rid or "", ping.exit_code)
        for stale in [u for u, name in self.registry.by_uuid.items() if name == claim.name]:
            del self.registry.by_uuid[stale]
        self.registry.add(claim.name, claim.uuid, beats)
        self._ids[claim.name] = claim.monitor_id
        self._settings[claim.name] = claim.settings

    def forget(self, name: str) -> None:
        self.registry.beats.pop(name, None)
        for stale in [u for u, n in self.registry.by_uuid.items() if n == name]:
            del self.registry.by_uuid[stale]
        self._ids.pop(name, None)  # its UUID may go to another monitor now
        self._settings.pop(name, None)

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
