"""Thread lanes: each subsystem's blocking work runs on threads of its own.

``asyncio.to_thread`` hands everything to one small pool (cores + 4 threads). When a login
flood queued a hundred argon2 hashes there, the store writer, alert delivery, heartbeat
writes and the host and MySQL checks waited behind them for twenty seconds, and monitors
went falsely down. A ``Lane`` is a named pool with a fixed number of threads: work queued on
one lane never waits for another lane's threads, so one subsystem's blocking work cannot
starve another's.

    store-writer   1   results and state changes, one batch at a time
    store-upkeep   1   rollups, retention, the restore at start
    alerts         2   incidents, the outbox (claims, records)
    notify         4   Apprise deliveries (sync HTTP/SMTP with their own timeouts)
    heartbeats     1   pings, written in batches
    checks        32   the sync probes (MySQL, host sampling)
    web            4   the dashboard's and the API's store reads and writes
    passwords      2   argon2 (CPU and 64 MiB each; run below normal priority)
    diagnosis      2   what the web asks of the diagnosis (a day and more of results)

Lanes are made on first use, so a CLI command that needs none starts no threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Lane:
    """A fixed number of threads for one subsystem; ``run`` is ``asyncio.to_thread`` on it."""

    def __init__(self, name: str, workers: int, *, nice: int = 0) -> None:
        self.name = name
        self.workers = workers
        self.nice = nice
        """Added to the threads' scheduling niceness (Linux: per thread), so CPU-heavy work
        such as hashing leaves the event loop's thread the CPU it needs."""
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.pending = 0
        """Calls queued or running (read on the event loop's thread)."""

    @property
    def full(self) -> bool:
        """Every thread is taken: one more call would wait in the queue."""
        return self.pending >= self.workers

    async def run(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        call = functools.partial(context.run, function, *args, **kwargs)
        self.pending += 1
        try:
            return await loop.run_in_executor(self._pool(), call)
        finally:
            self.pending -= 1

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.workers,
                    thread_name_prefix=f"wk-{self.name}",
                    initializer=functools.partial(_renice, self.nice) if self.nice else None,
                )
            return self._executor


def _renice(increment: int) -> None:
    """Lower this thread's priority (threads it starts, like argon2's, inherit it)."""
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + increment)


STORE_WRITER = Lane("store-writer", 1)
STORE_UPKEEP = Lane("store-upkeep", 1)
ALERTS = Lane("alerts", 2)
NOTIFY = Lane("notify", 4)
HEARTBEATS = Lane("heartbeats", 1)
CHECKS = Lane("checks", 32)
WEB = Lane("web", 4)
PASSWORDS = Lane("passwords", 2, nice=10)
DIAGNOSIS = Lane("diagnosis", 2)
