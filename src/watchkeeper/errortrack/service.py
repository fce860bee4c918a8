"""The error tracker of a running ``wk up``: projects, rate limits, duplicates, the queue of
events taken in, and the batched writer that groups them into issues and stores them.

An SDK is answered as soon as its events are queued (``ingest.take``); the writer takes up to
``batch_size`` events at a time (lingering ``flush_interval`` for a batch to fill), groups
them on the ``errors`` lane and writes each batch in one transaction on the store writer's
lane (``lanes.STORE_WRITER``), so SQLite sees one writer. Batches that fail for a passing
reason are retried with backoff; a batch the store refuses is split until the issue it
refuses is isolated, logged and counted in ``counts["dropped"]``. When the queue holds
``max_queue`` events (or ``max_queued_bytes`` of them) new events are refused with a 503
until it drains: memory stays bounded while the store is away.

After each batch commits, every listener (``ErrorListener``) hears, on the event loop, of
the issues it made, those it reopened, and the minute counts it added to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from watchkeeper.config import Config
from watchkeeper.errors import StoreError
from watchkeeper.errortrack import batches, lifecycle
from watchkeeper.errortrack import projects as registry
from watchkeeper.errortrack.alerts import ErrorAlerts
from watchkeeper.errortrack.batches import Health, Received
from watchkeeper.errortrack.duplicates import RecentIds
from watchkeeper.errortrack.limits import LIMITS, Limits, ProjectRates
from watchkeeper.errortrack.listeners import ErrorListener
from watchkeeper.errortrack.projects import Project
from watchkeeper.lanes import ERRORS, STORE_WRITER
from watchkeeper.store import Store
from watchkeeper.store.database import StoreClosedError, TransientStoreError
from watchkeeper.store.issue_batches import (
    OutcomeKey,
    ReleaseWrite,
    ResolvedIssue,
    Written,
)

log = logging.getLogger("watchkeeper.errors")

SALT_NOTE = "errors.user_salt"
REFRESH_AFTER = 2.0
"""Seconds between two readings of the store's projects when an unknown project id comes
(a project made by ``wk project add`` meanwhile); unknown ids in between are refused."""
RETRY_FIRST_DELAY = 0.05
RETRY_MAX_DELAY = 5.0
TALLY_EVERY = 5.0
"""Seconds between writes of counts alone (outcomes, sessions) when no events come."""


class ErrorTracker:
    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        limits: Limits = LIMITS,
        batch_size: int = 2000,
        flush_interval: float = 0.2,
        max_queue: int = 50_000,
        max_queued_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        self.store = store
        self.config = config
        self.limits = limits
        self.rates = ProjectRates()
        self.listeners: list[ErrorListener] = []
        self.alerts = ErrorAlerts(config, self.projects_get)
        """New issues, regressions and spikes queued as notifications with their batch."""
        self.on_alert: Callable[[], None] | None = None
        """Called (on the event loop) after a batch queued notifications: ``wk up``'s
        alerting looks at its outbox at once."""
        self.projects: dict[int, Project] = {}
        self.counts: Counter[str] = Counter()
        """requests, events (taken in), duplicates, rate_limited (answers),
        events_rate_limited, refused (requests), overflowed (events refused: the queue was
        full), stored (events kept), written (events counted into issues), dropped."""
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue = max_queue
        self._max_bytes = max_queued_bytes
        self._pending: deque[Received] = deque()
        self._queued_bytes = 0
        self._recent = RecentIds()
        self._outcomes: Counter[OutcomeKey] = Counter()
        self._health: dict[tuple[int, str], Health] = {}
        self._salt = b""
        self._kept = batches.KeptCounts()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._progress = asyncio.Condition()
        self._accepted = 0
        self._done = 0
        self._flushing = False
        self._closing = False
        self._refreshed = -REFRESH_AFTER
        self._refreshing: asyncio.Task[None] | None = None
        self._syncing: asyncio.Task[None] | None = None

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Register the config's projects, read every project, start the writer."""
        self._salt = await STORE_WRITER.run(self._load_salt)
        await self._sync(register=True)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="error-writer")

    async def stop(self, flush_timeout: float = 30.0) -> None:
        """Write what is queued (giving up after ``flush_timeout`` if the store does not
        answer), then stop."""
        self._closing = True
        for task in (self._syncing, self._refreshing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._task is None:
            return
        self._wake.set()
        self._full.set()
        done, _ = await asyncio.wait({self._task}, timeout=flush_timeout)
        if not done:
            lost = len(self._pending)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            log.error("stopping without writing %d error events: the store did not answer", lost)

    def projects_get(self, project_id: int) -> Project | None:
        return self.projects.get(project_id)

    def set_config(self, config: Config) -> None:
        """A reloaded config: its projects are registered and taken in the background."""
        self.config = config
        self.alerts.config = config
        if self._task is None:
            return
        if self._syncing is not None and not self._syncing.done():
            self._syncing.cancel()
        self._syncing = asyncio.get_running_loop().create_task(self._sync(register=True))

    def _load_salt(self) -> bytes:
        found = self.store.get_note(SALT_NOTE)
        if found is None:
            self.store.set_note(SALT_NOTE, secrets.token_hex(32))
            found = self.store.get_note(SALT_NOTE) or ""
        return bytes.fromhex(found)

    async def _sync(self, *, register: bool) -> None:
        config = self.config
        try:
            if register:
                stored = await STORE_WRITER.run(registry.register_config, self.store, config)
            else:
                stored = await ERRORS.run(self.store.error_projects)
        except StoreError as exc:
            log.warning("reading the error-tracking projects failed: %s", exc)
            return
        self.projects = registry.build(config, stored)
        self._refreshed = time.monotonic()

    # -- projects ----------------------------------------------------------------------------
    def known(self, project_id: int) -> Project | None:
        return self.projects.get(project_id)

    def by_name(self, name: str) -> Project | None:
        return next((p for p in self.projects.values() if p.name == name), None)

    async def project(self, project_id: int) -> Project | None:
        """The project of that id; one not known is looked for in the store (made since by
        ``wk project add``), at most every ``REFRESH_AFTER`` seconds."""
        found = self.projects.get(project_id)
        if found is not None:
            return found
        if self._refreshing is None or self._refreshing.done():
            if time.monotonic() - self._refreshed < REFRESH_AFTER:
                return None
            self._refreshed = time.monotonic()
            self._refreshing = asyncio.get_running_loop().create_task(self._sync(register=False))
        await asyncio.shield(self._refreshing)
        return self.projects.get(project_id)

    async def refresh(self) -> None:
        """Read the store's projects now (one was made through the API)."""
        await self._sync(register=False)

    # -- taking events in --------------------------------------------------------------------
    def is_duplicate(self, project_id: int, event_id: str) -> bool:
        if (project_id, event_id) in self._recent:
            self.counts["duplicates"] += 1
            return True
        return False

    def offer(self, events: Iterable[Received]) -> bool:
        """Queue events (never waits); False, and nothing queued, when the queue is full."""
        found = list(events)
        size = sum(event.size for event in found)
        if self._closing or (
            self._pending
            and (
                len(self._pending) + len(found) > self._max_queue
                or self._queued_bytes + size > self._max_bytes
            )
        ):
            self.counts["overflowed"] += len(found)
            return False
        for event in found:
            self._recent.add((event.project_id, event.event_id))
            self._pending.append(event)
            self.count_outcome(event.project_id, "error", "accepted")
        self._queued_bytes += size
        self._accepted += len(found)
        self.counts["events"] += len(found)
        self._wake.set()
        if len(self._pending) >= self._batch_size:
            self._full.set()
        return True

    def count_outcome(
        self, project_id: int, category: str, outcome: str, quantity: int = 1
    ) -> None:
        self._outcomes[(project_id, int(time.time() // 3600), category, outcome)] += quantity

    def count_sessions(self, project_id: int, item: Any, now: float) -> None:
        if isinstance(item, dict):
            batches.count_session(self._health, project_id, item, now, self.limits.aggregates)

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """Return once every event queued before the call is written (tests, shutdown)."""
        target = self._accepted
        if self._task is None or self._done >= target:
            return
        self._flushing = True
        self._wake.set()
        self._full.set()
        try:
            async with self._progress:
                await self._progress.wait_for(lambda: self._done >= target or self._task_done())
        finally:
            self._flushing = False

    def _task_done(self) -> bool:
        return self._task is None or self._task.done()

    # -- the writer --------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        if self._outcomes or self._health:
                            await self._write([])
                        return
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(TALLY_EVERY):
                            await self._wake.wait()
                    if not self._pending and (self._outcomes or self._health):
                        await self._write([])
                    continue
                if len(self._pending) < self._batch_size and not (self._closing or self._flushing):
                    self._full.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._flush_interval):
                            await self._full.wait()
                count = min(len(self._pending), self._batch_size)
                batch = [self._pending.popleft() for _ in range(count)]
                self._queued_bytes -= sum(event.size for event in batch)
                try:
                    await self._write(batch)
                finally:
                    self._done += len(batch)
                    async with self._progress:
                        self._progress.notify_all()
        finally:
            async with self._progress:
                self._progress.notify_all()

    async def _write(self, batch: list[Received]) -> None:
        outcomes, self._outcomes = self._outcomes, Counter()
        health, self._health = self._health, {}
        try:
            prepared = await ERRORS.run(self._prepare, batch)
        except Exception:  # a bug on some input: the batch is lost, the tracker goes on
            log.exception("grouping %d error events failed; they are dropped", len(batch))
            self.counts["dropped"] += len(batch)
            prepared = batches.Prepared([], [], 0)
        releases = _merge_releases([*prepared.releases, *batches.health_writes(health)])
        written = await self._commit(prepared.groups, releases, outcomes)
        if written is not None:
            self._tell(written)

    def _prepare(self, batch: list[Received]) -> batches.Prepared:
        """Drop events stored already (sent again after a restart), then group."""
        by_project: dict[int, list[str]] = {}
        for event in batch:
            by_project.setdefault(event.project_id, []).append(event.event_id)
        stored: set[tuple[int, str]] = set()
        for project_id, ids in by_project.items():
            with contextlib.suppress(StoreError):  # the write says what is wrong with it
                stored.update((project_id, i) for i in self.store.known_event_ids(project_id, ids))
        if stored:
            batch = [e for e in batch if (e.project_id, e.event_id) not in stored]
            self.counts["duplicates"] += len(stored)
        return batches.prepare(batch, self._salt, self._kept)

    async def _commit(
        self,
        groups: list[Any],
        releases: list[ReleaseWrite],
        outcomes: Mapping[OutcomeKey, int],
    ) -> Written | None:
        delay = RETRY_FIRST_DELAY

        def alerts(connection: Any, written: Written) -> int:
            return self.alerts.write(connection, written, groups)

        while True:
            try:
                queued = self.alerts.queued
                written = await STORE_WRITER.run(
                    self.store.write_errors,
                    groups,
                    releases,
                    outcomes,
                    time.time(),
                    _reopens,
                    alerts,
                )
            except TransientStoreError as exc:
                log.warning("writing %d issues' events failed, retrying: %s", len(groups), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)
                continue
            except StoreClosedError:
                raise
            except Exception as exc:
                return await self._isolate(groups, releases, outcomes, exc)
            self.counts["written"] += sum(group.count for group in groups)
            self.counts["stored"] += written.events_stored
            if self.alerts.queued != queued and self.on_alert is not None:
                self.on_alert()
            return written

    async def _isolate(
        self,
        groups: list[Any],
        releases: list[ReleaseWrite],
        outcomes: Mapping[OutcomeKey, int],
        exc: Exception,
    ) -> Written | None:
        """Write the halves of a refused batch apart; a lone refused issue is dropped."""
        if len(groups) > 1:
            middle = len(groups) // 2
            first = await self._commit(groups[:middle], releases, outcomes)
            second = await self._commit(groups[middle:], [], {})
            parts = [w for w in (first, second) if w is not None]
            return Written(
                [i for w in parts for i in w.created],
                [i for w in parts for i in w.regressed],
                [m for w in parts for m in w.minutes],
                sum(w.events_stored for w in parts),
            )
        dropped = sum(group.count for group in groups)
        self.counts["dropped"] += dropped
        log.error(
            "dropping %d error events: the store refuses them: %s",
            dropped,
            exc,
            exc_info=not isinstance(exc, StoreError),
        )
        return None

    def _tell(self, written: Written) -> None:
        for listener in list(self.listeners):
            try:
                for issue in written.created:
                    project = self.projects.get(issue.project_id)
                    if project is not None:
                        listener.issue_created(issue, project)
                for issue in written.regressed:
                    project = self.projects.get(issue.project_id)
                    if project is not None:
                        listener.issue_regressed(issue, project)
                if written.minutes:
                    listener.events_stored(written.minutes)
            except Exception:
                log.exception("error listener failed")


def _reopens(
    resolved: ResolvedIssue, releases: Mapping[str | None, float], first_seen: Mapping[str, float]
) -> bool:
    """The store's question, answered by ``lifecycle``: does any release of the new events
    reopen the resolved issue?"""
    try:
        resolution = lifecycle.Resolution(resolved.resolution or lifecycle.Resolution.NOW)
    except ValueError:
        resolution = lifecycle.Resolution.NOW
    rule = lifecycle.Resolved(resolution, resolved.release, resolved.at)
    return any(lifecycle.reopens(rule, release, at, first_seen) for release, at in releases.items())


def _merge_releases(found: list[ReleaseWrite]) -> list[ReleaseWrite]:
    """One row per (project, release): events and sessions of one batch added up."""
    merged: dict[tuple[int, str], ReleaseWrite] = {}
    for item in found:
        key = (item.project_id, item.version)
        known = merged.get(key)
        if known is None:
            merged[key] = item
            continue
        known.first_seen = min(known.first_seen, item.first_seen)
        known.last_seen = max(known.last_seen, item.last_seen)
        known.events += item.events
        known.sessions += item.sessions
        known.crashed += item.crashed
        known.errored += item.errored
        known.abnormal += item.abnormal
    return list(merged.values())
