"""The running side of real-user monitoring: beacons in (``take``), checked, sampled,
deduplicated and summed in memory (``rum.aggregate``); closed minutes out to the store, a
batch every ``FLUSH_EVERY`` seconds on the store's writer lane. One collector per ``wk up``.

The hot path (``take``) costs a JSON parse and a few dictionary operations per metric and
never waits: the store sees a few hundred rows a minute whatever the traffic. What a client
address sends is limited by a token bucket per address (``rum.burst``, ``rum.rate``),
counted in memory under the address's key (``auth.limits.address_key``) and never stored.

Sampling keeps a page view when the first 32 bits of its random id, read as a fraction,
fall under ``rum.sample``: the loader decides the same way, so a page view is kept or left
out whole, and a loader asking for more than the server keeps is trimmed here.

A write that fails for a passing reason is retried at the next flush (the tallies wait in
memory, at most ``MOST_WAITING``; past that the oldest are dropped, counted and logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watchkeeper.auth.limits import address_key
from watchkeeper.engine.buckets import TokenBuckets
from watchkeeper.errors import StoreError
from watchkeeper.lanes import CHECKS, STORE_WRITER
from watchkeeper.rum.aggregate import Aggregator, Outcome
from watchkeeper.rum.analysis import Summary, summary_of
from watchkeeper.rum.beacon import BatchError, parse
from watchkeeper.rum.pages import PageGroups
from watchkeeper.rum.rows import Sample, Tally
from watchkeeper.rum.settings import RumConfig
from watchkeeper.rum.vitals import ALL_DEVICES

if TYPE_CHECKING:
    from watchkeeper.store import Store

log = logging.getLogger("watchkeeper.rum")

FLUSH_EVERY = 5.0
"""Seconds between two looks for closed minutes to write."""
CLOSE_AFTER = 2.0
"""Seconds past a minute's end before it is written (beacons still in flight)."""
MOST_WAITING = 100_000
"""Tallies kept in memory while the store does not take them."""
_FULL = 2**32


@dataclass(frozen=True, slots=True)
class Taken:
    """What became of one batch."""

    status: int
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    sampled_out: int = 0
    why: str | None = None


class Collector:
    def __init__(
        self,
        settings: RumConfig | None,
        store: Store | None,
        *,
        clock: Callable[[], float] = time.time,
        flush_every: float = FLUSH_EVERY,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.flush_every = flush_every
        self.aggregator = Aggregator()
        self._groups = PageGroups(settings.page_pairs() if settings else [])
        self._limits = TokenBuckets()
        self._waiting: list[Tally] = []
        self._waiting_samples: list[Sample] = []
        self._task: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()
        self.accepted = 0
        """Metrics counted (a grown value replacing its first report included)."""
        self.duplicates = 0
        self.refused = 0
        """Metrics and batches refused as malformed."""
        self.sampled_out = 0
        self.limited = 0
        """Requests answered 429."""
        self.written = 0
        """Tallies written to the store."""
        self.dropped = 0
        """Tallies lost: the store refused them, or did not answer for too long."""

    @property
    def enabled(self) -> bool:
        return self.settings is not None

    def configure(self, settings: RumConfig | None) -> None:
        """Take a reloaded ``rum:`` section (what is counted so far stays)."""
        if settings != self.settings:
            self.settings = settings
            self._groups = PageGroups(settings.page_pairs() if settings else [])

    @property
    def page_names(self) -> tuple[str, ...]:
        return self._groups.names

    # -- the hot path --------------------------------------------------------------------
    def allows(self, origin: str | None) -> bool:
        """May a page of ``origin`` (its ``Origin`` header) send beacons? A request without
        one is not a browser's cross-site request: let through."""
        settings = self.settings
        if settings is None:
            return False
        if origin is None or settings.any_origin:
            return True
        return origin.lower() in settings.origins

    def admit(self, address: str | None) -> float:
        """Take one request from ``address``'s bucket: 0.0, or the seconds to wait."""
        settings = self.settings
        if settings is None or address is None:
            return 0.0
        wait = self._limits.take(address_key(address), settings.burst, settings.rate)
        if wait > 0:
            self.limited += 1
        return wait

    def take(self, body: bytes) -> Taken:
        """Count the batch in ``body`` (read by the caller, at most ``beacon.MOST_BYTES``)."""
        settings = self.settings
        if settings is None:
            return Taken(404, why="real-user monitoring is off (no rum: section)")
        try:
            batch = parse(body)
        except BatchError as exc:
            self.refused += 1
            return Taken(400, why=str(exc))
        self.refused += batch.refused
        if int(batch.view[:8], 16) / _FULL >= settings.sample:
            self.sampled_out += len(batch.reports)
            return Taken(202, sampled_out=len(batch.reports), refused=batch.refused, why=batch.why)
        now = self.clock()
        accepted = duplicates = 0
        group = self._groups.group
        add = self.aggregator.add
        for report in batch.reports:
            if add(report, group(report.path), now) is Outcome.DUPLICATE:
                duplicates += 1
            else:
                accepted += 1
        self.accepted += accepted
        self.duplicates += duplicates
        if not accepted and not duplicates and batch.refused:
            return Taken(400, refused=batch.refused, why=batch.why)
        return Taken(202, accepted, duplicates, batch.refused, why=batch.why)

    # -- what is still in memory, for readers on the event loop ---------------------------
    def open_tallies(self, since: float, until: float) -> list[Tally]:
        """Tallies of minutes in ``[since, until)`` not in the store yet."""
        return [
            *(t for t in self._waiting if since <= t.at < until),
            *self.aggregator.open_tallies(since, until),
        ]

    def open_samples(self, since: float, until: float) -> list[Sample]:
        return [
            *(s for s in self._waiting_samples if since <= s.at < until),
            *self.aggregator.open_samples(since, until),
        ]

    async def judge(self, monitor: str, settings: Any, now: float) -> Summary:
        """A ``rum`` monitor's window (``settings``: its page, device, metric and window)
        ending ``now``: what the store holds, read on the checks' threads (one read at a
        time per monitor), and what is still here. ``lanes.Busy`` while the monitor's
        previous read runs."""
        since = now - settings.window
        page, metric = settings.page, settings.metric
        device = None if settings.device == ALL_DEVICES else settings.device
        held = [t for t in self.open_tallies(since, now) if t.page == page and t.metric == metric]
        stored: list[Tally] = []
        if self.store is not None:
            stored = await CHECKS.run_one(
                ("rum", monitor),
                self.store.rum_tallies,
                since,
                now,
                page=page,
                device=device,
                metric=metric,
            )
        return summary_of(page, device, metric, [*stored, *held])

    # -- writing ---------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rum-flush")

    async def stop(self) -> None:
        """Stop the flushing task and write everything held (open minutes too)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush(everything=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            try:
                await self.flush()
            except Exception:  # the next flush tries again; counting goes on meanwhile
                log.exception("writing real-user monitoring tallies failed")

    async def flush(self, *, everything: bool = False) -> int:
        """Write the minutes closed ``CLOSE_AFTER`` ago (with ``everything``: all) and the
        new worst samples; returns the tallies written."""
        async with self._writing:
            tallies, samples = (
                self.aggregator.take_all()
                if everything
                else self.aggregator.take(self.clock() - CLOSE_AFTER)
            )
            self._waiting += tallies
            self._waiting_samples += samples
            if not self._waiting and not self._waiting_samples:
                return 0
            if self.store is None:
                return 0
            tallies, samples = self._waiting, self._waiting_samples
            try:
                await STORE_WRITER.run(self.store.rum_write, tallies, samples)
            except StoreError as exc:
                from watchkeeper.store.database import TransientStoreError

                if isinstance(exc, TransientStoreError) and not everything:
                    self._trim_waiting()
                    log.warning("RUM tallies wait for the store (%d held): %s", len(tallies), exc)
                    return 0
                self.dropped += len(tallies)
                self._waiting, self._waiting_samples = [], []
                log.error("dropping %d RUM tallies: the store refuses them: %s", len(tallies), exc)
                return 0
            self._waiting, self._waiting_samples = [], []
            self.written += len(tallies)
            return len(tallies)

    def _trim_waiting(self) -> None:
        over = len(self._waiting) - MOST_WAITING
        if over > 0:
            del self._waiting[:over]
            self.dropped += over
            log.error("the store has not taken RUM tallies for long: %d dropped so far", over)
        self._waiting_samples = self._waiting_samples[-MOST_WAITING:]
