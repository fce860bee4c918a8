"""The load generator: a lean HTTP/1.1 keep-alive client on asyncio (uvloop where there is
one) with httptools parsing the answers, driven by an open or a closed model.

Open model (the default): arrivals come at their intended times whatever the server does.
Each takes an idle connection, or a new one while the pool is under ``connections``, or waits
in line (up to ``max_queue``; beyond that it is dropped and counted). Latency is measured from
the intended send time, so a stalled server shows in the percentiles instead of hiding in a
lower request rate: no coordinated omission.

Closed model (``users``): each user sends, waits for the answer, thinks, sends again. Its
latency runs from the actual send, as Locust, k6 VUs and wrk measure; it is offered for
comparison and labelled as such.

Servers close connections, and that is no error: one that answers HTTP/1.0 or says
``Connection: close`` gets a new connection for the next request, and an idle connection the
server closed is simply replaced. Only a request that was sent and got no answer is an error,
with one exception every browser makes: a request sent on a reused connection that died
before any byte of its answer came (the server's idle timer fired as it arrived) is sent once
more, on a fresh connection, if it may be (``Target.replayable``). It still counts as one
request; ``Tally.retried`` says how many were sent again.

Everything per request is a method call on a Protocol: no task, no future, no parsing in
Python beyond httptools' callbacks. Latencies go into HDR histograms (microseconds, 3
significant digits): memory stays bounded however long the test runs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import resource
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import cast

import httptools
from hdrh.histogram import HdrHistogram

from watchkeeper.loadtest.plan import Profile, intended_times
from watchkeeper.loadtest.target import Target

LATE = 0.010
"""A request sent this much after its intended time counts as late."""
TICK = 0.001
SPIN = 0.0015
"""Wake this long before an arrival and poll the rest of the way (timers run late)."""
SPIN_BELOW_RATE = 500.0
"""Above this rate arrivals come in batches per wake-up instead: polling would cost a core."""


def histogram(digits: int = 3) -> HdrHistogram:
    """Microseconds from 1 µs to an hour; 3 significant digits for the totals, 2 for each
    second's (a tenth of the memory)."""
    return HdrHistogram(1, 3_600_000_000, digits)


@dataclass
class Second:
    """What one second of the test did. While the second runs (or waits to be merged with
    other workers' same second) it holds a histogram; ``close`` keeps only the percentiles,
    so a long test keeps a few numbers per second, not a histogram each."""

    at: int
    offered: int = 0
    sent: int = 0
    completed: int = 0
    errors: int = 0
    latency: HdrHistogram | None = field(default_factory=lambda: histogram(2))
    quantiles: dict[str, float | None] | None = None
    """Milliseconds: p50, p90, p99, max (once closed)."""

    def close(self) -> None:
        found = self.latency
        if found is None:
            return
        if found.get_total_count():
            self.quantiles = {
                "p50": found.get_value_at_percentile(50) / 1000,
                "p90": found.get_value_at_percentile(90) / 1000,
                "p99": found.get_value_at_percentile(99) / 1000,
                "max": found.get_max_value() / 1000,
            }
        else:
            self.quantiles = dict.fromkeys(("p50", "p90", "p99", "max"))
        self.latency = None


@dataclass
class Tally:
    """Everything a run counts; ``merge`` adds another worker's."""

    latency: HdrHistogram = field(default_factory=histogram)
    """From the intended send time (open model) or the actual send (closed)."""
    service: HdrHistogram = field(default_factory=histogram)
    """From the actual send: what the server took, queueing in the generator excluded."""
    offered: int = 0
    sent: int = 0
    """Requests attempted, each once: written to a connection, or given up on while waiting
    for one (its connection could not be made, or it waited past the timeout). Every error
    belongs to one of these, so ``errors / sent`` is the error rate."""
    completed: int = 0
    """Answers, whatever their status (an HTTP error is an answer and an error)."""
    retried: int = 0
    """Requests sent a second time, on a fresh connection (see the module's docstring)."""
    late: int = 0
    max_late: float = 0.0
    dropped: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    bytes_in: int = 0
    connections: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    seconds: dict[int, Second] = field(default_factory=dict)
    steady: HdrHistogram = field(default_factory=histogram)
    """Latency of the requests sent after ``Settings.steady_after``."""
    steady_sent: int = 0
    steady_completed: int = 0
    steady_errors: int = 0

    def second(self, at: int) -> Second:
        found = self.seconds.get(at)
        if found is None:
            found = self.seconds[at] = Second(at)
        return found

    def merge(self, other: Tally) -> None:
        self.latency.add(other.latency)
        self.service.add(other.service)
        self.steady.add(other.steady)
        for name in (
            "offered",
            "sent",
            "completed",
            "retried",
            "late",
            "dropped",
            "bytes_in",
            "connections",
            "steady_sent",
            "steady_completed",
            "steady_errors",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_late = max(self.max_late, other.max_late)
        self.errors.update(other.errors)
        self.statuses.update(other.statuses)
        self.cpu_seconds += other.cpu_seconds
        self.wall_seconds = max(self.wall_seconds, other.wall_seconds)
        for at, theirs in other.seconds.items():
            ours = self.second(at)
            ours.offered += theirs.offered
            ours.sent += theirs.sent
            ours.completed += theirs.completed
            ours.errors += theirs.errors
            if ours.latency is not None and theirs.latency is not None:
                ours.latency.add(theirs.latency)


@dataclass(frozen=True, slots=True)
class _Retry:
    """A request waiting for a fresh connection to be sent on once more."""

    pick: int
    intended: float
    began: float


class _Connection(asyncio.Protocol):
    __slots__ = (
        "answered",
        "began",
        "busy",
        "closed",
        "generator",
        "intended",
        "parser",
        "pick",
        "sent_at",
        "size",
        "status",
        "transport",
    )

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.busy = False
        self.closed = False
        self.answered = 0
        """Answers this connection has carried before the request in flight: one that has
        some is a reused connection."""
        self.pick = 0
        """The request in flight: its place in ``Target.schedule``."""
        self.intended = 0.0
        self.began = 0.0
        """When the request in flight was first sent (earlier than ``sent_at`` on a retry)."""
        self.sent_at = 0.0
        self.status = 0
        self.size = 0

    # asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.size += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.generator._failed(self, "bad response")
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.busy:
            self.generator._cut_off(self, "connection reset" if exc else "connection closed")
        self.generator._lost(self)

    # httptools
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_message_complete(self) -> None:
        self.answered += 1
        if not self.parser.should_keep_alive():
            self.close()  # before the answer is counted, so nothing is sent on it again
        self.generator._done(self)

    def send(self, pick: int, request: bytes, intended: float, began: float, now: float) -> None:
        self.busy = True
        self.pick = pick
        self.intended = intended
        self.began = began
        self.sent_at = now
        self.status = 0
        self.size = 0
        self.transport.write(request)  # type: ignore[union-attr]  # set before any send

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()


@dataclass(frozen=True, slots=True)
class Settings:
    connections: int = 100
    """The most connections open at once (open model)."""
    timeout: float = 10.0
    max_queue: int = 100_000
    poisson: bool = False
    seed: int = 0
    verify_tls: bool = True
    max_rate: float = 0.0
    """Closed model: the most requests per second the users may send together (0: no cap).
    A user whose turn would go over it waits, so a concurrency sweep stays under
    ``--max-rate`` however fast the target answers."""
    steady_after: float = 0.0
    """Also count, apart, what is sent from this many seconds into the run (``Tally.steady``):
    a capacity step is judged without its warm-up."""


class Generator:
    """One process's share of a test. ``run_open``/``run_closed`` fill ``tally``."""

    def __init__(
        self,
        target: Target,
        settings: Settings,
        *,
        on_second: Callable[[Second, Tally], None] | None = None,
    ) -> None:
        self.target = target
        self.settings = settings
        self.tally = Tally()
        self._on_second = on_second
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._connecting = 0
        self._queue: collections.deque[float] = collections.deque()
        self._retries: collections.deque[_Retry] = collections.deque()
        self._next = 0
        self._loop = asyncio.get_running_loop()
        self._start = 0.0
        self._closed_model = False
        self._think = 0.0
        self._ssl: ssl.SSLContext | None = None
        if target.endpoint.tls:
            self._ssl = ssl.create_default_context()
            if not settings.verify_tls:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._stopping = False
        """No new requests (closed model, time is up); those in flight may finish."""
        self._closing = False
        """The run is over: every connection is being closed, none is opened."""
        self._seconds_current = Second(-1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._steady_after = settings.steady_after
        self._interval = 1 / settings.max_rate if settings.max_rate > 0 else 0.0
        self._next_turn = 0.0
        self._user_next: Callable[[_Connection], None] = (
            self._user_sends_in_turn if self._interval else self._user_sends
        )
        """What a closed-model user does when ready: send, or wait its turn under a cap."""

    def _spawn(self) -> None:
        """Open one more connection in the background (the task is kept until it ends)."""
        task = self._loop.create_task(self._open_connection())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the two models ----------------------------------------------------------------------
    async def run_open(self, profile: Profile) -> Tally:
        async with self._running():
            times = intended_times(profile, poisson=self.settings.poisson, seed=self.settings.seed)
            start = self._start
            upcoming = next(times, None)
            while upcoming is not None:
                now = _clock()
                while upcoming is not None and start + upcoming <= now:
                    self._arrive(start + upcoming, now)
                    upcoming = next(times, None)
                if upcoming is not None:
                    gap = start + upcoming - _clock()
                    if gap > SPIN:
                        await asyncio.sleep(gap - SPIN)  # timers are late by up to ~1 ms
                    elif profile.peak < SPIN_BELOW_RATE:
                        await asyncio.sleep(0)  # the last moments: poll, to send on time
                    else:
                        await asyncio.sleep(TICK)  # busy: send whatever came due together
            await self._drain()
        return self.tally

    async def run_closed(self, users: int, seconds: float) -> Tally:
        self._closed_model = True
        self._think = self.target.think
        async with self._running():
            for _ in range(users):
                self._spawn()
            await asyncio.sleep(seconds)
            self._stopping = True
            await self._drain()
        return self.tally

    @contextlib.asynccontextmanager
    async def _running(self) -> AsyncIterator[None]:
        """The clock, the per-second ticker and the timeout sweeper for one run; the totals
        and the last second are settled and every connection closed however it ends."""
        self._start = _clock()
        ticker = self._loop.create_task(self._tick())
        sweeper = self._loop.create_task(self._sweep())
        cpu = _cpu()
        try:
            yield
        finally:
            ticker.cancel()
            sweeper.cancel()
            self.tally.cpu_seconds = _cpu() - cpu
            self.tally.wall_seconds = _clock() - self._start
            self._flush_second()
            self._close_all()

    # -- arrivals ----------------------------------------------------------------------------
    def _arrive(self, intended: float, now: float) -> None:
        tally = self.tally
        tally.offered += 1
        self._current.offered += 1
        if self._idle:
            self._send(self._idle.pop(), intended, now)
            return
        if len(self._queue) >= self.settings.max_queue:
            tally.dropped += 1
            return
        self._queue.append(intended)
        if len(self._all) + self._connecting < self.settings.connections:
            self._spawn()

    def _send(self, connection: _Connection, intended: float, now: float) -> None:
        index = self._next
        self._next = (index + 1) % len(self.target.schedule)
        tally = self.tally
        late = now - intended
        if late > LATE:
            tally.late += 1
            if late > tally.max_late:
                tally.max_late = late
        tally.sent += 1  # as _count_sent, inline: this is the path every request takes
        self._current.sent += 1
        if now - self._start >= self._steady_after:
            tally.steady_sent += 1
        connection.send(index, self.target.schedule[index][1], intended, now, now)

    def _send_again(self, connection: _Connection, retry: _Retry, now: float) -> None:
        """A request cut off on a reused connection, sent once more (not counted again)."""
        self.tally.retried += 1
        request = self.target.schedule[retry.pick][1]
        connection.send(retry.pick, request, retry.intended, retry.began, now)

    async def _open_connection(self) -> None:
        self._connecting += 1
        endpoint = self.target.endpoint
        try:
            _, connection = await asyncio.wait_for(
                self._loop.create_connection(
                    lambda: _Connection(self),
                    endpoint.host,
                    endpoint.port,
                    ssl=self._ssl,
                    server_hostname=endpoint.host if self._ssl else None,
                ),
                self.settings.timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            self._connecting -= 1
            self._connect_failed(_describe(exc))
            return
        self._connecting -= 1
        self._all.add(connection)
        self.tally.connections += 1
        self._ready(connection)

    def _connect_failed(self, reason: str) -> None:
        """A connection could not be made: the request waiting to be sent again on it fails,
        or else the arrival waiting for it (open model), or the user's next request (closed
        model, which tries again in a moment)."""
        if self._retries:
            retry = self._retries.popleft()
            self._count_error(f"connect: {reason}", retry.began)
        elif self._closed_model:
            if not self._stopping:  # time is up: the user would not have sent again
                self.tally.offered += 1
                self._current.offered += 1
                self._abandon(f"connect: {reason}", _clock())
        elif self._queue:
            self._abandon(f"connect: {reason}", self._queue.popleft())
        if self._closed_model:
            if not self._stopping or self._retries:
                self._loop.call_later(0.1, self._reconnect)
        elif (self._queue or self._retries) and self._room():
            self._loop.call_later(0.05, self._reconnect)

    def _reconnect(self) -> None:
        if not self._stopping or self._retries:
            self._spawn()

    def _room(self) -> bool:
        return len(self._all) + self._connecting < self.settings.connections

    def _ready(self, connection: _Connection) -> None:
        """A connection is free: give it a request to send again if it is fresh, else the
        next waiting arrival (or the user's next request), or keep it idle."""
        if connection.closed:
            return
        now = _clock()
        if self._retries and not connection.answered:
            self._send_again(connection, self._retries.popleft(), now)
            return
        if self._closed_model:
            if self._stopping:
                connection.close()
            elif self._think > 0:
                self._loop.call_later(self._think, self._user_next, connection)
            else:
                self._user_next(connection)
            return
        if self._queue:
            self._send(connection, self._queue.popleft(), now)
        else:
            self._idle.append(connection)

    def _user_sends_in_turn(self, connection: _Connection) -> None:
        """A user's next request under ``Settings.max_rate``: now, or at its turn when
        sending now would go over (turns are handed out evenly spaced, in the order asked).
        ``_user_next`` when there is a cap."""
        if connection.closed or self._stopping:
            return
        now = _clock()
        turn = max(self._next_turn, now)
        self._next_turn = turn + self._interval
        if turn > now:
            self._loop.call_later(turn - now, self._user_sends, connection)
        else:
            self._user_sends(connection)

    def _user_sends(self, connection: _Connection) -> None:
        if connection.closed or self._stopping:
            return
        now = _clock()
        self.tally.offered += 1
        self._current.offered += 1
        self._send(connection, now, now)

    # -- answers -----------------------------------------------------------------------------
    def _done(self, connection: _Connection) -> None:
        now = _clock()
        connection.busy = False
        tally = self.tally
        elapsed = int((now - connection.intended) * 1_000_000) or 1
        tally.latency.record_value(elapsed)
        tally.service.record_value(int((now - connection.sent_at) * 1_000_000) or 1)
        current = self._current.latency
        if current is not None:
            current.record_value(elapsed)
        tally.completed += 1
        self._current.completed += 1
        if connection.began - self._start >= self._steady_after:
            tally.steady.record_value(elapsed)
            tally.steady_completed += 1
        tally.bytes_in += connection.size
        status = connection.status
        tally.statuses[status] += 1
        if status >= 400:
            self._count_error(f"HTTP {status}", connection.began)
        self._ready(connection)

    def _failed(self, connection: _Connection, reason: str) -> None:
        """The request in flight on ``connection`` ended without an answer."""
        if not connection.busy:
            return
        connection.busy = False
        self._count_error(reason, connection.began)

    def _cut_off(self, connection: _Connection, reason: str) -> None:
        """The connection died with a request in flight. If it was a reused connection and
        not a byte of the answer came, the server most likely closed it as idle before the
        request arrived: send it once more on a fresh connection (``_lost`` opens one). Only
        fresh connections take such a request, so it is never sent a third time."""
        if (
            connection.busy
            and connection.answered
            and not connection.size
            and self.target.replayable[self.target.schedule[connection.pick][0]]
        ):
            connection.busy = False
            self._retries.append(_Retry(connection.pick, connection.intended, connection.began))
            return
        self._failed(connection, reason)

    # -- the accounting: each request counts once in ``sent``, and at most once in ``errors``
    def _count_sent(self, at: float) -> None:
        self.tally.sent += 1
        self._current.sent += 1
        if at - self._start >= self._steady_after:
            self.tally.steady_sent += 1

    def _abandon(self, reason: str, at: float) -> None:
        """A request that never got onto a connection fails: it counts as sent (it was
        attempted) and as an error."""
        self._count_sent(at)
        self._count_error(reason, at)

    def _count_error(self, reason: str, at: float) -> None:
        """``at``: when the request was sent (or meant to be), which decides whether it
        falls in the steady window, as for its answers."""
        self.tally.errors[reason] += 1
        self._current.errors += 1
        if at - self._start >= self._steady_after:
            self.tally.steady_errors += 1

    def _lost(self, connection: _Connection) -> None:
        """A connection is gone (the server closed it, idle or after its answer, or we did):
        a user carries on with a new one; an arrival waiting in line gets one."""
        self._all.discard(connection)
        if connection in self._idle:
            self._idle.remove(connection)
        if self._closing:
            return
        if self._retries and (self._closed_model or self._room()):
            self._spawn()
        elif self._stopping:
            return
        elif self._closed_model or (self._queue and self._room()):
            self._spawn()

    # -- housekeeping ------------------------------------------------------------------------
    @property
    def _current(self) -> Second:
        at = int(_clock() - self._start)
        second = self._seconds_current
        if second.at != at:
            self._flush_second()
            second = self._seconds_current = Second(at)
        return second

    def _flush_second(self) -> None:
        second = self._seconds_current
        if second.at >= 0 and (second.offered or second.completed or second.errors):
            self.tally.seconds[second.at] = second
            if self._on_second is not None:
                self._on_second(second, self.tally)
            second.close()

    async def _tick(self) -> None:
        """Close each second even when nothing happens in it (a stall shows as a gap)."""
        while True:
            await asyncio.sleep(0.25)
            _ = self._current

    async def _sweep(self) -> None:
        """Requests over their timeout fail and their connection is closed."""
        while True:
            await asyncio.sleep(min(0.1, self.settings.timeout / 4))
            now = _clock()
            limit = self.settings.timeout
            for connection in list(self._all):
                if connection.busy and now - connection.sent_at > limit:
                    self._failed(connection, "timeout")
                    connection.close()
            # arrivals that waited in line past the timeout fail too (open model)
            queue = self._queue
            while queue and now - queue[0] > limit:
                self._abandon("timeout", queue.popleft())
            retries = self._retries
            while retries and now - retries[0].began > limit:
                self._count_error("timeout", retries.popleft().began)

    async def _drain(self) -> None:
        """Wait for answers in flight (and arrivals in line) up to the timeout."""
        deadline = _clock() + self.settings.timeout + 0.5
        while _clock() < deadline:
            if (
                not self._queue
                and not self._retries
                and not any(c.busy for c in self._all)
                and not self._connecting
            ):
                return
            await asyncio.sleep(0.01)
        while self._queue:
            self._abandon("timeout", self._queue.popleft())
        while self._retries:
            self._count_error("timeout", self._retries.popleft().began)

    def _close_all(self) -> None:
        self._stopping = self._closing = True
        for connection in list(self._all):
            connection.close()


_clock = time.perf_counter
"""Timestamps: uvloop's loop.time() moves in whole milliseconds, too coarse to measure by."""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "TLS certificate not trusted"
    if isinstance(exc, ssl.SSLError):
        return "TLS failed"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__
