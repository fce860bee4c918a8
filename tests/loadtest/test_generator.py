"""The generator against real local servers whose behaviour is known: a fixed service time
with limited concurrency, and a server that stalls for half a second every five.

The claims here are the model's (what is counted, from when, what grows with what); how close
the percentiles come to the server's own and to theory is bench/loadgen_model.py's."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from tests.helpers.servers import WebServer
from tests.helpers.threaded import ThreadedServer

from watchkeeper.loadtest.generator import Generator, Settings
from watchkeeper.loadtest.plan import constant
from watchkeeper.loadtest.results import summarize
from watchkeeper.loadtest.runner import Job
from watchkeeper.loadtest.target import from_url

SERVICE = 0.020
WORKERS = 4  # so the capacity is 4 / 20 ms = 200 req/s


class KnownServer(ThreadedServer):
    """20 ms per request, 4 at a time (in a thread of its own). Records how long each
    request took inside the server, and how long each held its slot."""

    def __init__(self) -> None:
        self.inside: list[float] = []
        self.held: list[float] = []
        super().__init__(self._app)

    def _app(self) -> web.Application:
        slots = asyncio.Semaphore(WORKERS)

        async def answer(request: web.Request) -> web.Response:
            arrived = time.perf_counter()
            async with slots:
                taken = time.perf_counter()
                await asyncio.sleep(SERVICE)
                self.held.append(time.perf_counter() - taken)
            self.inside.append(time.perf_counter() - arrived)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/", answer)
        return app

    @property
    def capacity(self) -> float:
        """Requests per second it can answer: its slots over how long each is held."""
        return WORKERS / (sum(self.held) / len(self.held))


STALL, EVERY = 0.5, 5.0
"""The stalling server's pause and its period (a tenth of the time, as 1 s every 10 s would
be, at half the scale: the same fractions of arrivals wait, in half the run)."""


class StallingServer(ThreadedServer):
    """Answers in 2 ms, one at a time, except that it stalls for ``STALL`` every ``EVERY`` (a
    GC pause, a lock held too long): whatever arrives meanwhile waits for the stall to end."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        super().__init__(self._app)

    def _app(self) -> web.Application:
        slot = asyncio.Semaphore(1)

        async def answer(request: web.Request) -> web.Response:
            async with slot:
                phase = (time.monotonic() - self.started) % EVERY
                if phase < STALL:
                    await asyncio.sleep(STALL - phase)
                await asyncio.sleep(0.002)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/", answer)
        return app


@pytest.fixture
async def known() -> AsyncIterator[KnownServer]:
    async with KnownServer() as server:
        yield server


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def test_at_low_load_the_percentiles_are_the_servers_own(known: KnownServer) -> None:
    generator = Generator(from_url(known.url("/")), Settings(connections=20))
    tally = await generator.run_open(constant(50, 4))
    assert tally.completed == 200 and not tally.errors
    truth = [t * 1000 for t in known.inside]
    for q in (0.5, 0.9):
        measured = tally.latency.get_value_at_percentile(q * 100) / 1000
        # never less than the server took (HDR rounds to 0.1 %); more by what a busy machine
        # adds to each request, which is the service time seen from the client
        truth_at = sorted(truth)[math.ceil(q * len(truth)) - 1]  # the same rank as HDR's
        assert measured >= truth_at, (q, measured, truth_at)
        service = tally.service.get_value_at_percentile(q * 100) / 1000
        assert service <= measured * 1.001, "the service time is part of the latency"


async def test_above_capacity_the_wait_grows_with_the_queue_as_theory_says(
    known: KnownServer,
) -> None:
    # 250 req/s into about 200 req/s of capacity for 4 s: the line grows by the difference
    # each second, so the last arrival waits (250 / capacity - 1) × 4 s, and the waits rise
    # evenly to it (the capacity is measured: a 20 ms sleep takes a little longer)
    generator = Generator(from_url(known.url("/")), Settings(connections=20))
    tally = await generator.run_open(constant(250, 4))
    assert tally.completed == 1000
    expected_max = (250 / known.capacity - 1) * 4
    p50 = tally.latency.get_value_at_percentile(50) / 1e6
    p99 = tally.latency.get_value_at_percentile(99) / 1e6
    # the line grows: the late arrivals wait far longer than the median, and about as long
    # as theory says (a busy machine only lowers the capacity, which the formula measures)
    assert p99 >= 1.5 * p50, (p50, p99)
    assert 0.5 * expected_max <= p99 <= 2 * expected_max + 0.5, (p99, expected_max)
    assert tally.service.get_value_at_percentile(50) / 1e6 < p50, "the wait is in the line"
    assert tally.late > 0


async def test_a_stall_shows_in_the_open_model_and_hides_in_the_closed_one() -> None:
    async with StallingServer() as server:
        target = from_url(server.url("/"))
        server.started = time.monotonic() - STALL / 2  # the first stall at 4.75 s, then 9.75
        open_run = await Generator(target, Settings(connections=20)).run_open(
            constant(250, 2 * EVERY + STALL)
        )
        closed_run = await Generator(target, Settings()).run_closed(10, EVERY + 1)
    # A stall a tenth of the time: a tenth of the arrivals come during one and wait for the
    # rest of it and for the line ahead: with the server 60 % busy, from about the whole
    # stall for the first down to about 0.6 of it for the last, so the open model's p99 is
    # close to the full stall
    open_p99 = open_run.latency.get_value_at_percentile(99) / 1e6
    open_max = open_run.latency.get_max_value() / 1e6
    closed_p99 = closed_run.latency.get_value_at_percentile(99) / 1e6
    assert open_p99 >= 0.9 * STALL, open_p99
    assert open_max >= STALL, open_max
    # ten stuck requests among thousands: "fine", far below what the open model showed
    assert closed_p99 < open_p99 / 3, (closed_p99, open_p99)
    closed = summarize(closed_run, Job(target, Settings(), users=10, seconds=EVERY + 1), 1)
    assert any("coordinated omission" in w for w in closed["warnings"])


async def test_errors_are_counted_by_kind_and_nothing_hangs() -> None:
    app = web.Application()

    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=503, text="busy")

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    app.router.add_get("/fail", fail)
    app.router.add_get("/hang", hang)
    async with WebServer(app) as server:
        failing = await Generator(from_url(server.url("/fail")), Settings()).run_open(
            constant(100, 1)
        )
        hanging = await Generator(
            from_url(server.url("/hang")), Settings(connections=5, timeout=0.5)
        ).run_open(constant(20, 1))
    assert failing.errors == {"HTTP 503": 100} and failing.statuses == {503: 100}
    assert failing.sent == failing.completed == 100, "an error answer is one request, not two"
    assert hanging.errors["timeout"] == 20, hanging.errors
    with_nothing = await Generator(
        from_url("http://127.0.0.1:9/"), Settings(connections=2, timeout=1)
    ).run_open(constant(10, 1))
    assert sum(with_nothing.errors.values()) == 10
    assert all(kind.startswith("connect:") for kind in with_nothing.errors), with_nothing.errors
    assert with_nothing.sent == 10
    # a closed-model user whose connection cannot be made has tried a request each time
    nobody = await Generator(from_url("http://127.0.0.1:9/"), Settings(timeout=1)).run_closed(
        2, 0.5
    )
    assert nobody.errors and nobody.sent == sum(nobody.errors.values()) == nobody.offered


async def test_each_finished_second_keeps_a_few_numbers_not_a_histogram(
    known: KnownServer,
) -> None:
    tally = await Generator(from_url(known.url("/")), Settings()).run_open(constant(50, 3))
    assert len(tally.seconds) >= 3
    for second in tally.seconds.values():
        assert second.latency is None, "memory must not grow with the length of the test"
        assert second.quantiles is not None and second.quantiles["p50"] is not None
        # ~20 ms: at least the server's time, at most the run's slowest answer
        assert 15 <= second.quantiles["p50"] <= tally.latency.get_max_value() / 1000 + 1
