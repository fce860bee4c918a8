"""The single batched writer: results in from the event loop, batches out in a thread.

``put`` only queues (it waits only when the queue is full, which is the backpressure); one
task takes up to ``batch_size`` results at a time, lingering ``flush_interval`` for a batch
to fill, and commits each batch as one transaction on a thread of its own
(``lanes.STORE_WRITER``: nothing else queues there).

A batch that fails for a passing reason (database locked, connection lost) is retried with
exponential backoff for as long as it takes. A batch the database refuses outright is split
in halves until the results it refuses are isolated; those are logged at ERROR and counted in
``dropped`` so one unstorable result cannot stall monitoring. Nothing is dropped silently.
Writing to a closed Store is a bug: the task stops and ``flush``/``aclose`` raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from watchkeeper.errors import StoreError
from watchkeeper.lanes import STORE_WRITER
from watchkeeper.model import Result, Transition
from watchkeeper.store.database import StoreClosedError, TransientStoreError
from watchkeeper.store.store import Store

log = logging.getLogger("watchkeeper.store")

RETRY_FIRST_DELAY = 0.05
RETRY_MAX_DELAY = 5.0

_Item = tuple[Result, Sequence[Transition]]


class StoreWriter:
    """Batches results (and the transitions they caused) into the Store."""

    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 5000,
        flush_interval: float = 0.2,
        max_queue: int = 200_000,
        fence: Callable[[], tuple[str, Mapping[str, int]] | None] | None = None,
    ) -> None:
        if batch_size < 1 or max_queue < 1 or flush_interval < 0:
            raise ValueError("batch_size and max_queue must be >= 1, flush_interval >= 0")
        self._store = store
        self._fence = fence
        """In a cluster: this node and its lease tokens now (results of monitors it no
        longer holds are not written)."""
        self.fenced = 0
        """Results kept out by the fence (their monitor had moved to another node)."""
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue = max(max_queue, batch_size)
        self._pending: deque[_Item] = deque()
        self._in_flight = 0
        self._accepted = 0
        self._done = 0
        self._flush_target = 0
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._space = asyncio.Event()
        self._progress = asyncio.Condition()
        self.written = 0
        """Results committed so far."""
        self.batches = 0
        """Batches committed so far."""
        self.dropped = 0
        """Results the database refused outright (each one logged)."""
        self.last_write_seconds = 0.0
        """How long the last committed batch took."""
        self.write_seconds_total = 0.0
        """How long all committed batches took, together."""
        self.overflowed = 0
        """Results dropped by ``offer`` because the queue was full."""
        self.unwritten = 0
        """Results still queued when ``aclose`` gave up waiting for the store."""
        self._overflow_logged = -60.0

    @property
    def queue_depth(self) -> int:
        """Results put but not committed yet (queued or being written)."""
        return len(self._pending) + self._in_flight

    async def start(self) -> None:
        """Start the writing task (``put`` starts it too); safe to call twice."""
        self._task = self._ensure_started()

    async def put(self, result: Result, transitions: Sequence[Transition] = ()) -> None:
        """Queue one result; waits only while the queue is full."""
        if self._closing:
            raise RuntimeError("StoreWriter is closed")
        if self._task is not None and self._task.done():
            raise RuntimeError("StoreWriter stopped; see the error it logged or raised")
        while len(self._pending) >= self._max_queue:
            self._space.clear()
            await self._space.wait()
        self._pending.append((result, transitions))
        self._accepted += 1
        if self._task is None:
            self._task = self._ensure_started()
        self._wake.set()
        if len(self._pending) % self._batch_size == 0:
            self._full.set()
            await asyncio.sleep(0)  # a producer that never waits still lets a batch start

    def offer(self, result: Result, transitions: Sequence[Transition] = ()) -> bool:
        """Queue one result without ever waiting; the engine's way in.

        When the queue is full (the store has been unreachable for a long while) the result
        is dropped, counted in ``overflowed`` and logged once a minute, so monitoring goes on
        instead of stalling behind the store. Transitions are never dropped: a result that
        carries one is queued past the limit. Returns whether the result was queued.
        """
        if self._closing:
            raise RuntimeError("StoreWriter is closed")
        if len(self._pending) >= self._max_queue and not transitions:
            self.overflowed += 1
            now = time.monotonic()
            if now - self._overflow_logged >= 60:
                self._overflow_logged = now
                log.error(
                    "the store is not keeping up: %d results queued, %d dropped so far",
                    len(self._pending),
                    self.overflowed,
                )
            return False
        self._pending.append((result, transitions))
        self._accepted += 1
        if self._task is None:
            self._task = self._ensure_started()
        self._wake.set()
        if len(self._pending) % self._batch_size == 0:
            self._full.set()
        return True

    async def flush(self) -> None:
        """Return once everything put before this call is committed."""
        target = self._accepted
        if self._done >= target:
            return
        task = self._ensure_started()
        self._flush_target = max(self._flush_target, target)
        self._full.set()
        self._wake.set()
        async with self._progress:
            await self._progress.wait_for(lambda: self._done >= target or task.done())
        if self._done < target:
            cause = None if task.cancelled() else task.exception()
            raise RuntimeError("StoreWriter stopped before its queue was written") from cause

    async def aclose(self, give_up_after: float | None = None) -> None:
        """Write everything queued, then stop; safe to call twice.

        With ``give_up_after``, stop trying after that many seconds (the store is unreachable): the
        task is cancelled and how many results were not written is logged.
        """
        self._closing = True
        if self._task is None and not self._pending:
            return
        task = self._ensure_started()
        self._wake.set()
        self._full.set()
        if give_up_after is None:
            await task
            return
        done, _ = await asyncio.wait({task}, timeout=give_up_after)
        if not done:
            lost = self.queue_depth
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.unwritten = lost
            log.error("stopping without writing %d results: the store did not answer", lost)
            return
        await task

    def _ensure_started(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="watchkeeper-store-writer"
            )
        return self._task

    async def _run(self) -> None:
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if not self._urgent():
                    self._full.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._flush_interval):
                            await self._full.wait()
                await self._commit(self._take())
        finally:
            async with self._progress:
                self._progress.notify_all()

    def _urgent(self) -> bool:
        return (
            self._closing
            or len(self._pending) >= self._batch_size
            or self._flush_target > self._done
        )

    def _take(self) -> list[_Item]:
        count = min(len(self._pending), self._batch_size)
        batch = [self._pending.popleft() for _ in range(count)]
        self._in_flight = count
        self._space.set()
        return batch

    async def _commit(self, batch: list[_Item]) -> None:
        await self._write(batch)
        self._in_flight = 0
        self._done += len(batch)
        async with self._progress:
            self._progress.notify_all()

    async def _write(self, batch: list[_Item]) -> None:
        """Write ``batch``, retrying passing failures and isolating refused results."""
        results = [result for result, _ in batch]
        transitions = [transition for _, caused in batch for transition in caused]
        delay = RETRY_FIRST_DELAY
        while True:
            started = time.perf_counter()
            try:
                if self._fence is None:
                    await STORE_WRITER.run(self._store.write, results, transitions)
                else:
                    self.fenced += await STORE_WRITER.run(
                        self._store.write, results, transitions, fence=self._fence()
                    )
            except TransientStoreError as exc:
                log.warning(
                    "writing %d results failed, retrying in %.2fs: %s", len(batch), delay, exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)
                continue
            except StoreClosedError:
                raise
            except Exception as exc:
                await self._isolate(batch, exc)
                return
            self.last_write_seconds = time.perf_counter() - started
            self.write_seconds_total += self.last_write_seconds
            self.written += len(batch)
            self.batches += 1
            return

    async def _isolate(self, batch: list[_Item], exc: Exception) -> None:
        if len(batch) > 1:
            middle = len(batch) // 2
            await self._write(batch[:middle])
            await self._write(batch[middle:])
            return
        result = batch[0][0]
        self.dropped += 1
        log.error(
            "dropping the result of monitor %r at %s: the store refuses it: %s",
            result.monitor,
            result.started_at,
            exc,
            exc_info=not isinstance(exc, StoreError),
        )
