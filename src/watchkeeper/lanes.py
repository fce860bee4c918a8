"""Thread lanes: each subsystem's blocking work runs on threads of its own.

``asyncio.to_thread`` hands everything to one small pool (cores + 4 threads). When a login
flood queued a hundred argon2 hashes there, the store writer, alert delivery, heartbeat
writes and the host and MySQL checks waited behind them for twenty seconds, and monitors
went falsely down. A ``Lane`` is a named set of threads: work queued on one lane never
waits for another lane's threads, so one subsystem's blocking work cannot starve another's.

    store-writer   1   results and state changes, one batch at a time
    store-upkeep   1   rollups, retention, the restore at start
    alerts         2   incidents, the outbox (claims, records)
    notify        16   Apprise deliveries (sync HTTP/SMTP; one at a time per route)
    heartbeats     1   pings, written in batches
    checks        32   the sync probes (MySQL, host sampling; one at a time per monitor),
                       making an SNMP engine (its MIB tables), finding, measuring and
                       killing the browser journeys' Chromium processes
    judging        2   expectations on a large body (a megabyte of JSON or text)
    web            4   the dashboard's and the API's store reads and writes
    passwords      2   argon2 (CPU and 64 MiB each; run below normal priority)
    diagnosis      2   what the web asks of the diagnosis (a day and more of results)
    reload         1   live reloads: reading and validating the config, the store reads
                       they need, and the file watch of ``wk up --watch``
    backups        2   backup monitors and drills: listing folders, reading file heads,
                       the drill's verification queries on a MariaDB scratch database
    cluster        1   a node's sync with the store: heartbeat, leases, the leader lease
    errors         1   error tracking: grouping a batch of SDK events into issues, reading
                       the projects (the batch is written on store-writer)

A call that hangs (a hung NFS mount under a disk sample, a MySQL server trickling bytes past
every read timeout) is abandoned by its caller's deadline but keeps its thread. ``run_one``
keys such calls (by monitor, by route): while one is still running, the next with its key
is refused (``Busy``) instead of taking another thread, so a hung target costs its lane
one thread, never all of them. The threads are daemons: a hung call does not hold up the
exit. ``pending`` counts calls until they really end, not until their callers give up.

Lanes start their threads on first use, so a CLI command that needs none starts none.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
import queue
import threading
from collections.abc import Callable, Hashable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Busy(Exception):
    """The previous call with this key is still running on its thread."""


class Lane:
    """A fixed number of daemon threads for one subsystem; ``run`` is ``asyncio.to_thread``
    on them."""

    def __init__(self, name: str, workers: int, *, nice: int = 0) -> None:
        self.name = name
        self.workers = workers
        self.nice = nice
        """Added to the threads' scheduling niceness (Linux: per thread), so CPU-heavy work
        such as hashing leaves the event loop's thread the CPU it needs."""
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._pending = 0
        self.calls = 0
        """Calls handed to the lane since it was made (a test can tell where work went)."""
        self._running_keys: set[Hashable] = set()

    @property
    def pending(self) -> int:
        """Calls queued or running, until they end (whether or not anyone still waits)."""
        return self._pending

    @property
    def full(self) -> bool:
        """Every thread is taken: one more call would wait in the queue."""
        return self._pending >= self.workers

    def running(self, key: Hashable) -> bool:
        return key in self._running_keys

    async def run(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._submit(None, functools.partial(function, *args, **kwargs))

    async def run_one(
        self, key: Hashable, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``run``, unless a call with ``key`` is still on a thread: then ``Busy``."""
        with self._lock:
            if key in self._running_keys:
                raise Busy(key)
            self._running_keys.add(key)
        return await self._submit(key, functools.partial(function, *args, **kwargs))

    async def _submit(self, key: Hashable | None, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        context = contextvars.copy_context()

        def settle(value: Any, error: BaseException | None) -> None:
            if future.done():  # its caller gave up (a deadline, a cancellation)
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

        def work() -> None:
            value: Any = None
            error: BaseException | None = None
            try:
                value = context.run(call)
            except BaseException as exc:
                error = exc
            finally:
                with self._lock:
                    self._pending -= 1
                    if key is not None:
                        self._running_keys.discard(key)
            with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
                loop.call_soon_threadsafe(settle, value, error)

        with self._lock:
            self._pending += 1
            self.calls += 1
            self._start_threads()
        self._queue.put(work)
        return await future

    def _start_threads(self) -> None:
        while len(self._threads) < min(self.workers, self._pending):
            thread = threading.Thread(
                target=self._serve, name=f"wk-{self.name}-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _serve(self) -> None:
        if self.nice:
            _renice(self.nice)
        while True:
            self._queue.get()()


def _renice(increment: int) -> None:
    """Lower this thread's priority (threads it starts, like argon2's, inherit it)."""
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + increment)


STORE_WRITER = Lane("store-writer", 1)
STORE_UPKEEP = Lane("store-upkeep", 1)
ALERTS = Lane("alerts", 2)
NOTIFY = Lane("notify", 16)
HEARTBEATS = Lane("heartbeats", 1)
CHECKS = Lane("checks", 32)
JUDGING = Lane("judging", 2)
WEB = Lane("web", 4)
PASSWORDS = Lane("passwords", 2, nice=10)
DIAGNOSIS = Lane("diagnosis", 2)
RELOAD = Lane("reload", 1)
BACKUPS = Lane("backups", 2)
CLUSTER = Lane("cluster", 1)
ERRORS = Lane("errors", 1)
