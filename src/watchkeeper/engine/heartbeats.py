"""The ping side of heartbeat monitors: their state in memory, rebuilt from the store at
start, and durable writes of every ping.

A ping is answered only after it is committed. Pings that arrive together are committed
together (one transaction for all that waited while the previous one was written), so the
rate is bounded by the store's commits per second times the batch, not by one commit per
ping. Each monitor keeps its newest ``pings.KEEP`` (trimmed as they are written).

Each UUID has a token bucket (its ``ping_burst`` and ``ping_rate``). A ping past it is not
lost, only not stored as it came: ``count_only`` applies it to the state in memory at once
(a failure past the limit still takes the monitor down), and what the pings past the limit
said is written ``FLUSH_AFTER`` later as a few rows without bodies — per run id the newest
success, the newest failure, and a start still open — enough for a restart to rebuild the
same state. A flood costs a few rows a second per UUID, not a row and a body per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection

from watchkeeper.checks import Resources
from watchkeeper.checks.heartbeat import (
    Beats,
    HeartbeatSettings,
    Registry,
    is_failure,
    late_at,
)
from watchkeeper.config import Monitor
from watchkeeper.engine.buckets import TokenBuckets
from watchkeeper.lanes import HEARTBEATS
from watchkeeper.store import Store
from watchkeeper.store import pings as db

log = logging.getLogger("watchkeeper.engine")
_K = TypeVar("_K")
MAX_BATCH = 5000
TRIM_EVERY = 100
"""Stored pings of a monitor between two trims to ``pings.KEEP`` (so it holds at most
``KEEP + TRIM_EVERY``)."""
FLUSH_AFTER = 1.0
"""Seconds after the first ping past the limit that what they said is stored."""
MOST_COALESCED = 4
"""Run ids remembered per kind among the pings past the limit (the newest)."""


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


@dataclass
class Coalesced:
    """What the pings of one monitor past its rate limit said, until it is stored."""

    finishes: dict[tuple[bool, str], db.Ping] = field(default_factory=dict)
    """(failed, run id) → the newest such finish."""
    starts: dict[str, db.Ping] = field(default_factory=dict)
    """run id → the newest start."""

    def add(self, ping: db.Ping) -> None:
        rid = ping.rid or ""
        if ping.kind == "start":
            _newest(self.starts, rid, ping)
        else:
            _newest(self.finishes, (is_failure(ping.kind, ping.exit_code), rid), ping)

    def pings(self) -> list[db.Ping]:
        """Every ping remembered, oldest first."""
        return sorted([*self.finishes.values(), *self.starts.values()], key=lambda p: p.ts)

    def rows(self, beats: Beats) -> list[db.Ping]:
        """The pings to store, oldest first: replayed after the stored ones, they give the
        state ``beats`` has (starts only of runs still open: a finish without a run id
        closes the newest open run, and that finish may not be among these)."""
        still_open = [p for rid, p in self.starts.items() if beats.starts.get(rid) == p.ts]
        return sorted([*self.finishes.values(), *still_open], key=lambda p: p.ts)


def _newest(table: dict[_K, db.Ping], key: _K, ping: db.Ping) -> None:
    table.pop(key, None)
    table[key] = ping  # pings come in time order: the first key is the oldest
    if len(table) > MOST_COALESCED:
        del table[next(iter(table))]


def replay(since: float, history: Iterable[db.Ping]) -> Beats:
    """The state a monitor watched since ``since`` is in after ``history`` (oldest first)."""
    beats = Beats(since=since)
    for ping in history:
        beats.record(ping.kind, ping.ts, ping.rid or "", ping.exit_code)
    return beats


def stored_beats(store: Store, monitors: Iterable[Monitor]) -> dict[str, Beats]:
    """The state of each heartbeat monitor a ``wk up`` took pings for, as its stored pings
    describe it (what ``wk up`` rebuilds at start), by name; the others are left out. Reads
    only (no UUID is made): for commands beside a running ``wk up``. Blocking."""
    names = [m.name for m in monitors if m.kind == "heartbeat"]
    with store.read() as connection:
        found = db.watched(connection, names)
        return {
            name: replay(held.since, db.recent(connection, held.monitor_id))
            for name, held in found.items()
        }


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
        self._stopping = False
        self._buckets = TokenBuckets()
        self._coalesced: dict[str, Coalesced] = {}
        self._flushes: dict[str, asyncio.TimerHandle] = {}
        self._untrimmed: dict[int, int] = {}
        """Pings stored per monitor since its last trim (none yet: trim at the first)."""
        self.written = 0
        self.limited = 0
        """Pings past their UUID's rate limit (counted, not stored as they came)."""

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
        beats = replay(claim.since, claim.history)
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
        self._stopping = False
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._write_loop())

    async def stop(self) -> None:
        self._stopping = True
        for name in list(self._flushes):
            self._flushes.pop(name).cancel()
            self._flush(name)
        if self._task is not None:
            await asyncio.wait_for(self._idle.wait(), None)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # -- pings -------------------------------------------------------------------------------
    def late_at(self, name: str) -> float | None:
        """The moment heartbeat monitor ``name`` turns late if no ping comes first (see
        ``checks.heartbeat.late_at``); None if it takes no pings."""
        beats = self.registry.beats.get(name)
        settings = self._settings.get(name)
        if beats is None or settings is None:
            return None
        return late_at(settings, beats)

    def settings_for(self, uuid: str) -> HeartbeatSettings | None:
        name = self.registry.by_uuid.get(uuid)
        return None if name is None else self._settings.get(name)

    def admit(self, uuid: str) -> float:
        """Take a ping of ``uuid`` from its bucket: 0.0 if it may be stored, else the seconds
        until the next one may (``count_only`` it then)."""
        settings = self.settings_for(uuid)
        if settings is None:
            return 0.0
        return self._buckets.take(uuid, settings.ping_burst, settings.ping_rate)

    def count_only(
        self,
        uuid: str,
        kind: str,
        *,
        exit_code: int | None = None,
        rid: str = "",
        source: str | None = None,
    ) -> Received | None:
        """A ping past the rate limit: its effect on the state now, its row (without a body)
        coalesced with the others and stored ``FLUSH_AFTER`` later; None for an unknown UUID."""
        name = self.registry.by_uuid.get(uuid)
        if name is None:
            return None
        now = time.time()
        duration = self.registry.beats[name].record(kind, now, rid, exit_code)
        ping = db.Ping(self._ids[name], now, kind, exit_code, rid or None, duration, None, source)
        self._coalesced.setdefault(name, Coalesced()).add(ping)
        self.limited += 1
        self._schedule_flush(name)
        return Received(name, kind, duration)

    def _flush(self, name: str) -> None:
        """Queue what the pings of ``name`` past the limit said (not waiting for it); if the
        store does not take it, it is merged with any newer ones and tried again."""
        self._flushes.pop(name, None)
        coalesced = self._coalesced.pop(name, None)
        beats = self.registry.beats.get(name)
        if coalesced is None or beats is None:
            return
        rows = coalesced.rows(beats)
        stored = asyncio.gather(*(self._enqueue(row) for row in rows))

        def written(done: asyncio.Future[list[None]]) -> None:
            if done.cancelled() or done.exception() is None:
                return
            log.warning("pings of %s past the rate limit not stored: %s", name, done.exception())
            if self._stopping or name not in self.registry.beats:
                return  # the monitor is gone, or we are: the state in memory goes with it
            merged = Coalesced()
            for ping in [*rows, *self._coalesced.pop(name, Coalesced()).pings()]:
                merged.add(ping)
            self._coalesced[name] = merged
            self._schedule_flush(name)

        stored.add_done_callback(written)

    def _schedule_flush(self, name: str) -> None:
        if name not in self._flushes:
            loop = asyncio.get_running_loop()
            self._flushes[name] = loop.call_later(FLUSH_AFTER, self._flush, name)

    def _enqueue(self, ping: db.Ping) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((ping, done))
        self._idle.clear()
        self._wake.set()
        return done

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
        await self._enqueue(ping)
        return Received(name, kind, duration)

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                try:
                    await HEARTBEATS.run(self._write, [ping for ping, _ in batch])
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
        added: dict[int, int] = {}
        for ping in batch:
            added[ping.monitor_id] = added.get(ping.monitor_id, 0) + 1
        due = [m for m, n in added.items() if self._untrimmed.get(m, TRIM_EVERY) + n >= TRIM_EVERY]
        with self.store.transaction() as connection:
            db.add(connection, batch)
            for monitor_id in due:
                db.trim(connection, monitor_id)
        for monitor_id, n in added.items():
            self._untrimmed[monitor_id] = (
                0 if monitor_id in due else self._untrimmed.get(monitor_id, 0) + n
            )
