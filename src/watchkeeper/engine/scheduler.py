"""The scheduler: runs every monitor on its interval, spread out, within concurrency limits.

Each monitor runs on a fixed grid (``phase + k * interval``), so runs do not drift; its phase
comes from a hash of its name, which spreads a fleet evenly over every interval and keeps each
monitor's slot across restarts. The first run after start comes sooner, at random within
``min(interval, 60 s)`` (soon, but not ten thousand checks at once); the grid takes over from
the slot at least half an interval after it. While a failure (or a recovery) is being
confirmed, the next run comes after ``retry_interval`` instead. A monitor whose previous run
is still in flight when its next slot comes skips that slot (counted in ``skipped``): runs
never pile up. A monitor has at most one live item in the heap; items superseded by
``run_now`` (or ``run_at``: a run owed at a known moment, between slots) are left to go
stale.

At most ``concurrency`` checks run at once, and at most ``per_host`` against one target. A due
check that finds no free slot waits in its host's line (no task is created for it); when a
slot frees up, hosts with waiting checks take turns, so one slow host cannot starve the rest.
Lag — how late a check started against its slot, limits included — is recorded in an HDR
histogram (microseconds).
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import logging
import math
import random
import time
import zlib
from array import array
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from hdrh.histogram import HdrHistogram

from watchkeeper import checks
from watchkeeper.checks import Resources
from watchkeeper.config import Monitor
from watchkeeper.engine.runner import run_check
from watchkeeper.model import Result

log = logging.getLogger("watchkeeper.engine")

OnResult = Callable[[Monitor, Result], Awaitable[bool]]
"""Called with every Result; returns True while a streak is being confirmed (retry sooner)."""

_STARTUP_SPREAD = 60.0
TICK = 0.01


@dataclass(slots=True)
class _Entry:
    monitor: Monitor
    grid: float = 0.0  # the next slot on the monitor's fixed grid
    phase: float = 0.0  # where in its interval (loop time modulo interval) the grid lies
    aligned: bool = False  # False until the first run has handed over to the grid
    running: bool = False
    removed: bool = False
    token: int = 0  # the sequence number of its live heap item; older items are stale
    due: float = 0.0  # when its live heap item is due
    started: float = -math.inf  # when its last run started (loop time)
    rerun: bool = False  # asked to run again while a run was in flight
    successor: _Entry | None = None  # replaced while its run was in flight: runs after it
    wake: float = math.inf  # a run is owed at or after this moment (run_at), until one starts


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, 3_600_000_000, 3)


def _fold(histogram: HdrHistogram, micros: array[int]) -> None:
    """Add lags (µs) to ``histogram``: rounded to its three significant digits, then one
    record per distinct value (a record costs microseconds; a check cannot pay that)."""
    if not micros:
        return
    values = np.maximum(np.frombuffer(micros, dtype=np.int64), 1)
    scale = 10.0 ** np.maximum(np.floor(np.log10(values)) - 2, 0)
    rounded = (np.rint(values / scale) * scale).astype(np.int64)
    distinct, counts = np.unique(rounded, return_counts=True)
    for value, count in zip(distinct.tolist(), counts.tolist(), strict=True):
        histogram.record_value(min(value, 3_600_000_000), count)


_FOLD_AT = 500_000
"""Lags kept raw at most (4 MB) before they are folded, even within a minute."""


@dataclass(slots=True)
class SchedulerStats:
    started: int = 0
    completed: int = 0
    skipped: int = 0
    queued: int = 0  # checks that waited for a free slot before starting
    lag: HdrHistogram = field(default_factory=_histogram)
    """How late checks started, since the start, up to the last whole minute."""
    last_minute: HdrHistogram | None = None
    """The same, over the last whole minute (steady state, without the start-up's)."""
    minute_began: float = 0.0
    raw: array[int] = field(default_factory=lambda: array("q"))
    """The minute under way's lags in µs, as they came (folded once a minute)."""

    def record_lag(self, lag: float, now: float) -> None:
        """One check started ``lag`` seconds after it was due."""
        if now - self.minute_began >= 60.0 or len(self.raw) >= _FOLD_AT:
            if self.minute_began:
                minute = _histogram()
                _fold(minute, self.raw)
                self.lag.add(minute)
                self.last_minute = minute
                self.raw = array("q")
            self.minute_began = now
        self.raw.append(int(lag * 1e6))

    @property
    def lag_total(self) -> HdrHistogram:
        """Every check's lag so far."""
        total = _histogram()
        total.add(self.lag)
        _fold(total, self.raw)
        return total

    def lag_seconds(self, percentile: float) -> float:
        return float(self.lag_total.get_value_at_percentile(percentile)) / 1e6

    def last_minute_lag(self, percentile: float) -> float | None:
        """Lag over the last whole minute; None before one has passed."""
        if self.last_minute is None:
            return None
        return float(self.last_minute.get_value_at_percentile(percentile)) / 1e6


class Scheduler:
    def __init__(
        self,
        monitors: Iterable[Monitor],
        on_result: OnResult,
        *,
        resources: Resources | None = None,
        concurrency: int = 1000,
        per_host: int = 100,
        secrets: frozenset[str] = frozenset(),
        rng: random.Random | None = None,
        startup_spread: float = _STARTUP_SPREAD,
    ) -> None:
        self.resources = resources or Resources()
        self.stats = SchedulerStats()
        self._on_result = on_result
        self.secrets = secrets
        """Values masked in every Result (a reload may bring new ones)."""
        self._rng = rng or random.Random()
        self._spread = startup_spread
        self._limit = concurrency
        self._per_host_limit = per_host
        self._busy = 0  # checks in flight
        self._host_busy: dict[str, int] = {}  # checks in flight per host
        self._waiting: dict[str, collections.deque[tuple[_Entry, float]]] = {}
        self._ready: dict[str, None] = {}  # hosts with waiting checks and a free slot, in turn
        self._heap: list[tuple[float, int, _Entry]] = []
        self._entries: dict[str, _Entry] = {}
        self._sequence = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._warmed: set[str] = set()
        self._warming: set[asyncio.Task[None]] = set()
        self._loop = asyncio.get_running_loop()
        for monitor in monitors:
            self.add(monitor)

    # -- membership --------------------------------------------------------------------------
    def add(self, monitor: Monitor, *, at: float | None = None) -> None:
        """Schedule a monitor (its first run is spread unless ``at`` is given). One that
        replaces a monitor of its name whose run is in flight runs once that run ends: a
        monitor never runs twice at once."""
        previous = self._entries.get(monitor.name)
        if previous is not None:
            self.remove(monitor.name)
        if monitor.paused:
            return
        checks.prepare(monitor.check)  # its drivers, now rather than inside its first probe
        self._warm(monitor)
        entry = _Entry(monitor)
        if previous is not None and previous.running:
            entry.running = True  # held until the previous run ends (see ``_run``)
            previous.successor = entry
        now = self._loop.time()
        first = (
            at
            if at is not None
            else now + self._rng.uniform(0, min(monitor.interval, self._spread))
        )
        entry.grid = first
        # the same second of the interval in wall-clock time on every run of the engine
        share = zlib.crc32(monitor.name.encode()) / 2**32
        entry.phase = (share * monitor.interval - time.time() + now) % monitor.interval
        self._entries[monitor.name] = entry
        self._push(first, entry)

    def _warm(self, monitor: Monitor) -> None:
        """Start what the kind needs before its first probe (once per kind), meanwhile."""
        warm = monitor.check.warm
        if warm is None or monitor.check.name in self._warmed:
            return
        self._warmed.add(monitor.check.name)

        async def warming() -> None:
            try:
                await warm(self.resources)
            except Exception as exc:  # the first probe meets it again and says so
                log.info("warming up %s checks failed: %s", monitor.check.name, exc)

        task = asyncio.create_task(warming(), name=f"warm-{monitor.check.name}")
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)

    def renew(self, monitor: Monitor) -> None:
        """Take a definition equal to the scheduled one in all that runs (only where it is
        written differs): its slot on the grid, and a run in flight, stay as they are."""
        entry = self._entries.get(monitor.name)
        if entry is not None:
            entry.monitor = monitor

    def remove(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None:
            entry.removed = True

    def run_now(self, name: str, coalesce: float = 0.0) -> bool:
        """Move a monitor's next run to now: an extra run, the grid stays as it is. While a
        run is in flight, another follows it. With ``coalesce``, runs asked for in a burst
        (a heartbeat's pings) start at most once per ``coalesce`` seconds, the last request
        still answered within that. False if the monitor is unknown."""
        entry = self._entries.get(name)
        if entry is None:
            return False
        if entry.running:
            entry.rerun = True
            return True
        at = max(self._loop.time(), entry.started + coalesce)
        if entry.due > at or entry.token == 0:
            self._push(at, entry)
        return True

    def run_at(self, name: str, at: float) -> bool:
        """Have a monitor run at ``at`` (loop time) or soon after, even between its slots: a
        check whose answer changes at a known moment (a heartbeat turning late) is judged
        then, not at its next slot. The moment replaces one asked for before (what the
        check knows now supersedes it); the grid stays. A run in flight, or one due sooner,
        does not count as it: the run after that comes no later than ``at``. False if the
        monitor is unknown."""
        entry = self._entries.get(name)
        if entry is None:
            return False
        entry.wake = at
        if not entry.running and entry.due > at:
            self._push(at, entry)
        return True

    def next_run(self, name: str) -> float | None:
        """When (loop time) a monitor's next run is due; None if it is not scheduled."""
        entry = self._entries.get(name)
        return None if entry is None else entry.due

    @property
    def in_flight(self) -> int:
        return self._busy

    @property
    def waiting(self) -> int:
        """Checks that are due but wait for a free slot (global or per host)."""
        return sum(len(queue) for queue in self._waiting.values())

    @property
    def monitors(self) -> int:
        return len(self._entries)

    def _push(self, due: float, entry: _Entry) -> None:
        self._sequence += 1
        entry.token = self._sequence
        entry.due = due
        heapq.heappush(self._heap, (due, self._sequence, entry))
        if self._heap[0][2] is entry:
            self._wake.set()

    # -- the loop ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Dispatch due checks until ``stop()``; ``drain`` then waits for those in flight."""
        while not self._stopping:
            self._wake.clear()
            if not self._heap:
                await self._wake.wait()
                continue
            due = self._heap[0][0]
            now = self._loop.time()
            if due > now:
                # wake at most every TICK: checks due within it start together, which keeps
                # the loop's own work per check small at thousands of checks a second
                timer = self._loop.call_at(max(due, now + TICK), self._wake.set)
                await self._wake.wait()
                timer.cancel()
                continue
            now = self._loop.time()
            while self._heap and self._heap[0][0] <= now and not self._stopping:
                due, token, entry = heapq.heappop(self._heap)
                if token == entry.token:
                    self._dispatch(entry, due)

    def _dispatch(self, entry: _Entry, due: float) -> None:
        """Start the check now if the limits allow, else queue it behind its host."""
        if entry.removed or entry.running:
            return
        entry.running = True
        host = entry.monitor.host_key
        if self._busy < self._limit and self._host_busy.get(host, 0) < self._per_host_limit:
            self._start(entry, due, host)
            return
        waiting = self._waiting.get(host)
        if waiting is None:
            waiting = self._waiting[host] = collections.deque()
        waiting.append((entry, due))
        self.stats.queued += 1
        if self._host_busy.get(host, 0) < self._per_host_limit and host not in self._ready:
            self._ready[host] = None

    def _start(self, entry: _Entry, due: float, host: str) -> None:
        self._busy += 1
        self._host_busy[host] = self._host_busy.get(host, 0) + 1
        task = self._loop.create_task(self._run(entry, due, host))
        self._tasks.add(task)  # ``_run`` takes it out as it ends (no done callback per check)

    def _release(self, host: str) -> None:
        """A check finished: give its slot to the next waiting check, hosts taking turns."""
        self._busy -= 1
        busy = self._host_busy[host] - 1
        if busy:
            self._host_busy[host] = busy
        else:
            del self._host_busy[host]
        if host in self._waiting and host not in self._ready:
            self._ready[host] = None
        while self._ready and self._busy < self._limit:
            ready = next(iter(self._ready))
            del self._ready[ready]
            waiting = self._waiting[ready]
            entry, due = waiting.popleft()
            if not waiting:
                del self._waiting[ready]
            if entry.removed or self._stopping:
                entry.running = False
            else:
                self._start(entry, due, ready)
            if ready in self._waiting and self._host_busy.get(ready, 0) < self._per_host_limit:
                self._ready[ready] = None  # back of the line: hosts take turns

    async def _run(self, entry: _Entry, due: float, host: str) -> None:
        monitor = entry.monitor
        confirming = False
        try:
            try:
                entry.started = self._loop.time()
                if entry.wake <= entry.started:  # this run is the one owed
                    entry.wake = math.inf
                self.stats.record_lag(entry.started - due, entry.started)
                self.stats.started += 1
                result = await run_check(monitor, self.resources, self.secrets)
            finally:
                self._release(host)
            self.stats.completed += 1
            try:
                confirming = await self._on_result(monitor, result)
            except Exception:
                log.exception("handling the result of %s failed", monitor.name)
        finally:
            self._tasks.discard(asyncio.current_task())
            entry.running = False
            if not entry.removed and not self._stopping:
                self._reschedule(entry, due, confirming)
            elif entry.successor is not None and not self._stopping:
                self._release_successor(entry.successor)

    def _release_successor(self, entry: _Entry) -> None:
        """The run of the monitor ``entry`` replaced ended: ``entry`` may run now (at its
        due time, or at once if that went by while it was held)."""
        entry.running = False
        if entry.removed:
            if entry.successor is not None:
                self._release_successor(entry.successor)
            return
        self._push(max(entry.due, self._loop.time()), entry)

    def _reschedule(self, entry: _Entry, due: float, confirming: bool) -> None:
        now = self._loop.time()
        if due >= entry.grid:
            self._advance_grid(entry, due)
        elif entry.grid <= now:  # its slot came while an extra run was in flight: skip it
            self.stats.skipped += 1
            self._advance_grid(entry, entry.grid)
        next_due = entry.grid
        if confirming:
            next_due = min(next_due, now + entry.monitor.retry_interval)
        if entry.rerun:  # asked for while it ran: what it was asked about came too late
            entry.rerun = False
            next_due = min(next_due, max(now, entry.started + 0.05))
        next_due = min(next_due, entry.wake)
        self._push(max(next_due, now), entry)

    def _advance_grid(self, entry: _Entry, due: float) -> None:
        interval = entry.monitor.interval
        if entry.aligned:
            grid = max(entry.grid, due) + interval
        else:  # hand the first run over to the monitor's own phase
            entry.aligned = True
            earliest = due + interval / 2
            grid = entry.phase + math.ceil((earliest - entry.phase) / interval) * interval
        now = self._loop.time()
        if grid <= now:  # fell behind: skip the slots already past instead of bunching up
            missed = int((now - grid) // interval) + 1
            self.stats.skipped += missed
            grid += missed * interval
        entry.grid = grid

    # -- stopping ----------------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def drain(self, grace: float) -> None:
        """Let in-flight checks finish for up to ``grace`` seconds, then cancel the rest."""
        for task in list(self._warming):
            task.cancel()
        if self._warming:
            await asyncio.gather(*self._warming, return_exceptions=True)
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
