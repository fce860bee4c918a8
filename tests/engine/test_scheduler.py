"""The Scheduler, driven with a fake check kind whose probe sleeps or waits for a gate and
records when it ran: limits, fairness, cadence, spreading, membership, shutdown and lag.

Bounds are functional (counts, ordering), never benchmarks: the machine is a loaded 2-core one.
A bound on *when* a check ran is a bound on when it was due, plus ``late(scheduler)``: the
latest start the scheduler itself measured in that run (a stalled machine's delay, whatever it
was). How small that lag is on a quiet machine is a benchmark's claim: bench/scheduler_lag.py.
Every check is due at once unless the test is about spreading (``startup_spread=0``), and
intervals are long unless the test is about cadence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest

from watchkeeper.checks import Attempt, CheckKind, CheckSettings
from watchkeeper.config import Monitor
from watchkeeper.engine import Scheduler
from watchkeeper.model import Result, State
from watchkeeper.state import MonitorStatus, advance

RunOnLoop = Callable[[Coroutine[Any, Any, None]], None]

EPSILON = 0.02
"""Seconds: timer granularity and the few steps between the scheduler starting a check and the
probe noting the time; not a margin for load (``late`` is)."""
DEADLINE = 20.0
"""Seconds to wait for an event before failing: generous, a stalled machine still gets there."""


# -- the fake check kind --------------------------------------------------------------------------
class FakeSettings(CheckSettings):
    """One fake monitor: its name (the probe sees only settings), its host, how it behaves."""

    label: str
    host: str = ""
    hold: float = 0.0
    """Seconds the probe takes."""
    gated: bool = False
    """Wait for ``FakeChecks.gate`` (after ``hold``) before returning."""
    ok: bool = True

    def host_key(self) -> str:
        return self.host


@dataclass
class Run:
    """One probe of one monitor, in loop time (``wall``: ``time.time()`` at the start)."""

    monitor: str
    host: str
    started: float
    wall: float
    ended: float | None = None
    cancelled: bool = False


class FakeChecks:
    """A check kind whose probe records every run and how many ran at once."""

    def __init__(self) -> None:
        self.kind = CheckKind("fake", FakeSettings, {}, self._probe)
        self.gate = asyncio.Event()
        self.runs: list[Run] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._per_host: Counter[str] = Counter()
        self.most_per_host: Counter[str] = Counter()
        self._per_monitor: Counter[str] = Counter()
        self.most_per_monitor: Counter[str] = Counter()

    def monitor(
        self,
        name: str,
        *,
        host: str = "",
        interval: float = 60.0,
        retry_interval: float | None = None,
        confirm: int = 2,
        hold: float = 0.0,
        gated: bool = False,
        ok: bool = True,
        paused: bool = False,
    ) -> Monitor:
        settings = FakeSettings(label=name, host=host, hold=hold, gated=gated, ok=ok)
        return Monitor(
            name=name,
            kind="fake",
            check=self.kind,
            settings=settings,
            interval=interval,
            timeout=30.0,
            confirm=confirm,
            recover=2,
            retry_interval=interval if retry_interval is None else retry_interval,
            expectations=(),
            paused=paused,
            host_key=settings.host_key(),
        )

    def starts(self, name: str) -> list[float]:
        return [run.started for run in self.runs if run.monitor == name]

    def ended(self) -> list[Run]:
        return [run for run in self.runs if run.ended is not None]

    async def _probe(self, settings: FakeSettings, attempt: Attempt) -> None:
        loop = asyncio.get_running_loop()
        run = Run(settings.label, settings.host, loop.time(), time.time())
        self.runs.append(run)
        self._enter(settings)
        try:
            if settings.hold:
                await asyncio.sleep(settings.hold)
            if settings.gated:
                await self.gate.wait()
        except asyncio.CancelledError:
            run.cancelled = True
            raise
        finally:
            run.ended = loop.time()
            self.in_flight -= 1
            self._per_host[settings.host] -= 1
            self._per_monitor[settings.label] -= 1
        if not settings.ok:
            attempt.fail("fake failure")

    def _enter(self, settings: FakeSettings) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self._per_host[settings.host] += 1
        host = settings.host
        self.most_per_host[host] = max(self.most_per_host[host], self._per_host[host])
        self._per_monitor[settings.label] += 1
        name = settings.label
        self.most_per_monitor[name] = max(self.most_per_monitor[name], self._per_monitor[name])


class ResultLog:
    """An on_result callback that keeps every Result and never asks for a quicker retry."""

    def __init__(self) -> None:
        self.results: list[Result] = []

    async def __call__(self, monitor: Monitor, result: Result) -> bool:
        self.results.append(result)
        return False


@pytest.fixture
def fake() -> FakeChecks:
    return FakeChecks()


async def until(condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
    """Wait until ``condition()`` holds, polling every few milliseconds (conditions span the
    fake, the scheduler and the callbacks, so there is no one event to wait for)."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():  # noqa: ASYNC110 - see above
                await asyncio.sleep(0.005)
    except TimeoutError:
        pytest.fail(f"still waiting after {timeout}s", pytrace=False)


def late(scheduler: Scheduler) -> float:
    """How late, at worst, any check of ``scheduler`` started after it was due (its own lag
    histogram), plus ``EPSILON``: a start can be checked against its due time exactly."""
    return scheduler.stats.lag_seconds(100) + EPSILON


@contextlib.asynccontextmanager
async def running(scheduler: Scheduler) -> AsyncIterator[Scheduler]:
    """The scheduler's loop runs inside the block; stopped and drained after it."""
    dispatching = asyncio.create_task(scheduler.run())
    try:
        yield scheduler
    finally:
        scheduler.stop()
        await asyncio.wait_for(dispatching, DEADLINE)
        await scheduler.drain(1.0)


# -- limits ---------------------------------------------------------------------------------------
def test_the_global_limit_is_reached_and_never_exceeded(run_on_loop: RunOnLoop) -> None:
    async def scenario() -> None:
        fake = FakeChecks()
        monitors = [fake.monitor(f"m{i}", host=f"host-{i}", hold=0.03) for i in range(20)]
        scheduler = Scheduler(monitors, ResultLog(), concurrency=4, startup_spread=0)
        async with running(scheduler):
            await until(lambda: len(fake.ended()) == 20)

        assert fake.most_in_flight == 4
        assert scheduler.stats.started == 20
        assert scheduler.stats.queued == 16

    run_on_loop(scenario())


def test_the_per_host_limit_holds_for_each_host_while_other_hosts_run(
    run_on_loop: RunOnLoop,
) -> None:
    async def scenario() -> None:
        fake = FakeChecks()
        monitors = [
            fake.monitor(f"{host}-{i}", host=host, hold=0.03)
            for host in ("a", "b", "c")
            for i in range(6)
        ]
        scheduler = Scheduler(monitors, ResultLog(), per_host=2, startup_spread=0)
        async with running(scheduler):
            await until(lambda: len(fake.ended()) == 18)

        assert fake.most_per_host == {"a": 2, "b": 2, "c": 2}
        assert fake.most_in_flight == 6  # the three hosts ran side by side

    run_on_loop(scenario())


def test_a_host_with_a_long_queue_does_not_starve_another_host(run_on_loop: RunOnLoop) -> None:
    async def scenario() -> None:
        fake = FakeChecks()
        busy = [fake.monitor(f"busy-{i}", host="busy", hold=0.01) for i in range(50)]
        quiet = [fake.monitor(f"quiet-{i}", host="quiet", hold=0.01) for i in range(5)]
        # the busy host's checks are due first and fill both slots
        scheduler = Scheduler(busy + quiet, ResultLog(), concurrency=2, startup_spread=0)
        async with running(scheduler):
            await until(lambda: len(fake.ended()) == 55)

        hosts = [run.host for run in fake.runs]
        last_quiet = max(i for i, host in enumerate(hosts) if host == "quiet")
        # hosts take turns: all of quiet's checks start while busy's line is still 40 long
        assert hosts[:last_quiet].count("busy") <= 10, hosts
        assert fake.most_in_flight == 2

    run_on_loop(scenario())


# -- cadence --------------------------------------------------------------------------------------
async def test_a_failure_is_confirmed_at_retry_interval_then_the_interval_resumes(
    fake: FakeChecks,
) -> None:
    statuses: dict[str, MonitorStatus] = {}

    async def on_result(monitor: Monitor, result: Result) -> bool:
        current = statuses.get(monitor.name, MonitorStatus(monitor.name, State.UP))
        statuses[monitor.name], _ = advance(current, result, confirm=3, recover=2)
        return statuses[monitor.name].confirming

    interval = 2.0
    monitor = fake.monitor("api", ok=False, interval=interval, retry_interval=0.05, confirm=3)
    created = asyncio.get_running_loop().time()
    async with running(Scheduler([monitor], on_result, startup_spread=0)):
        await until(lambda: len(fake.starts("api")) >= 4)

    assert statuses["api"].state is State.DOWN
    starts = [start - created for start in fake.starts("api")]
    # the grid's first slot is at least half an interval after the first run: failures 1 and
    # 2 were being confirmed (on_result said True), so runs 2 and 3 came long before it
    assert starts[2] < interval / 2, starts
    # down after the third: on_result says False, and the next run waits for the grid
    assert starts[3] >= interval / 2 - EPSILON, starts


async def test_a_check_longer_than_its_interval_never_overlaps_itself_and_skips_slots(
    fake: FakeChecks,
) -> None:
    interval = 0.1
    monitor = fake.monitor("slow", interval=interval, hold=0.25)
    scheduler = Scheduler([monitor], ResultLog(), startup_spread=0)
    async with running(scheduler):
        await until(lambda: len(fake.runs) == 1)
        assert scheduler.run_now("slow")  # known, but already running: no second run
        await until(lambda: len(fake.ended()) >= 4)
        runs = fake.ended()

    assert fake.most_per_monitor["slow"] == 1
    for earlier, later in pairwise(fake.runs):
        assert earlier.ended is not None and later.started >= earlier.ended
    # each 250 ms run covers at least two 100 ms slots after its own, which are skipped
    assert scheduler.stats.skipped >= 2 * len(runs)
    last_end = runs[-1].ended
    assert last_end is not None
    assert scheduler.stats.skipped <= (last_end - runs[0].started) / interval + 1


# -- spreading ------------------------------------------------------------------------------------
async def test_the_first_run_comes_within_the_interval_or_the_startup_spread(
    fake: FakeChecks,
) -> None:
    slow = [fake.monitor(f"slow-{i}", interval=1.0) for i in range(100)]
    fast = [fake.monitor(f"fast-{i}", interval=0.3) for i in range(100)]
    created = asyncio.get_running_loop().time()
    scheduler = Scheduler(slow + fast, ResultLog(), startup_spread=0.6, rng=random.Random(7))
    async with running(scheduler):
        await until(lambda: len({run.monitor for run in fake.runs}) == 200)

    def first_runs(monitors: list[Monitor]) -> list[float]:
        return [fake.starts(monitor.name)[0] - created for monitor in monitors]

    lateness = late(scheduler)
    assert max(first_runs(fast)) <= 0.3 + lateness  # the interval is the shorter bound
    assert max(first_runs(slow)) <= 0.6 + lateness  # the startup spread is
    assert max(first_runs(slow)) > 0.4  # spread out, not all at once


async def test_later_runs_spread_over_the_interval_each_on_its_own_wall_clock_slot(
    fake: FakeChecks,
) -> None:
    monitors = [fake.monitor(f"site-{i}.example.com", interval=1.0) for i in range(200)]
    scheduler = Scheduler(monitors, ResultLog(), startup_spread=0.05)
    async with running(scheduler):
        await until(lambda: all(len(fake.starts(m.name)) >= 2 for m in monitors))

    lateness = late(scheduler)
    first = [fake.starts(m.name)[0] for m in monitors]
    assert max(first) - min(first) <= 0.05 + lateness  # the first round starts in a burst...

    def off_slot(monitor: Monitor) -> float:
        """How far (circularly, in seconds) its second run was from its hashed wall-clock slot."""
        slot = zlib.crc32(monitor.name.encode()) / 2**32
        wall = next(run.wall for run in fake.runs[200:] if run.monitor == monitor.name)
        distance = (wall - slot) % 1.0
        return min(distance, 1.0 - distance)

    distances = sorted(off_slot(monitor) for monitor in monitors)
    # ...the next is spread over the interval, each run on its own slot (random slots would
    # lie up to 0.5 s from it, a burst up to 0.5 s for half of them)
    assert distances[-1] <= lateness, (lateness, distances[-25:])


# -- membership -----------------------------------------------------------------------------------
async def test_run_now_runs_promptly_and_leaves_the_grid_alone(fake: FakeChecks) -> None:
    loop = asyncio.get_running_loop()
    interval = 1.0
    scheduler = Scheduler([fake.monitor("api", interval=interval)], ResultLog(), startup_spread=0)
    async with running(scheduler):
        await until(lambda: len(fake.starts("api")) == 2)
        on_grid = fake.starts("api")[1]
        await asyncio.sleep(on_grid + interval / 4 - loop.time())  # between two slots
        asked = loop.time()
        assert scheduler.run_now("api")
        await until(lambda: len(fake.starts("api")) == 4)
        assert not scheduler.run_now("nobody")

    lateness = late(scheduler)
    assert asked < on_grid + interval - lateness, "asked for before the next slot"
    extra, next_on_grid = fake.starts("api")[2:4]
    assert asked <= extra <= asked + lateness
    # the grid slot, not a quarter interval later (where a run_now that moved the grid puts it)
    assert abs(next_on_grid - (on_grid + interval)) <= lateness, (next_on_grid - on_grid, lateness)


async def test_a_slot_that_comes_during_an_extra_run_is_skipped_not_run_late(
    fake: FakeChecks,
) -> None:
    loop = asyncio.get_running_loop()
    interval = 1.0
    scheduler = Scheduler(
        [fake.monitor("api", interval=interval, hold=0.6)], ResultLog(), startup_spread=0
    )
    async with running(scheduler):
        await until(lambda: len(fake.ended()) == 2)
        on_grid = fake.runs[1].started
        skipped = scheduler.stats.skipped
        asked = loop.time()
        assert scheduler.run_now("api")  # runs from about +0.6 s to +1.2 s: over the slot
        await until(lambda: len(fake.starts("api")) == 4)

    lateness = late(scheduler)
    assert asked < on_grid + interval - lateness, "asked for before the next slot"
    extra, after = fake.starts("api")[2:4]
    assert asked <= extra <= asked + lateness
    # the slot at +1 s came during the extra run: skipped, and the next run is the one after
    assert after - on_grid >= 2 * interval - lateness, fake.starts("api")
    assert scheduler.stats.skipped >= skipped + 1


async def test_run_at_runs_at_that_moment_between_slots_and_leaves_the_grid_alone(
    fake: FakeChecks,
) -> None:
    loop = asyncio.get_running_loop()
    log = ResultLog()
    scheduler = Scheduler([fake.monitor("beat", interval=3600)], log, startup_spread=0)
    async with running(scheduler):
        await until(lambda: len(log.results) == 1)
        on_grid = scheduler.next_run("beat")
        assert on_grid is not None and on_grid > loop.time() + 1000
        owed = loop.time() + 0.3
        assert scheduler.run_at("beat", owed)
        assert scheduler.next_run("beat") == owed
        assert not scheduler.run_at("nobody", owed)
        await until(lambda: len(log.results) == 2)  # rescheduled as its result came
        assert scheduler.next_run("beat") == on_grid, "back to its slot"

    assert fake.starts("beat")[1] >= owed, "not a moment before it"


async def test_a_run_owed_while_a_run_is_in_flight_comes_after_it_at_the_newest_moment(
    fake: FakeChecks,
) -> None:
    loop = asyncio.get_running_loop()
    scheduler = Scheduler(
        [fake.monitor("beat", interval=3600, gated=True)], ResultLog(), startup_spread=0
    )
    async with running(scheduler):
        await until(lambda: len(fake.starts("beat")) == 1)
        assert scheduler.run_at("beat", loop.time() + 0.1)
        owed = loop.time() + 0.3
        assert scheduler.run_at("beat", owed)  # what the check knows now replaces it
        fake.gate.set()
        await until(lambda: len(fake.starts("beat")) == 2)

    assert fake.starts("beat")[1] >= owed


async def test_a_removed_monitor_stops_and_the_others_carry_on(fake: FakeChecks) -> None:
    monitors = [
        fake.monitor("kept", interval=0.05),
        fake.monitor("idle", interval=0.05),
        fake.monitor("busy", interval=0.2, hold=0.1),
    ]
    results = ResultLog()
    scheduler = Scheduler(monitors, results, startup_spread=0)
    async with running(scheduler):
        await until(lambda: len(fake.starts("idle")) >= 2)
        await until(lambda: any(r.monitor == "busy" and r.ended is None for r in fake.runs))
        scheduler.remove("idle")
        scheduler.remove("busy")  # while its check is in flight
        idle_runs, busy_runs = len(fake.starts("idle")), len(fake.starts("busy"))
        kept_runs = len(fake.starts("kept"))
        await until(lambda: len(fake.starts("kept")) >= kept_runs + 10)

        assert scheduler.monitors == 1
        assert not scheduler.run_now("idle")
        assert len(fake.starts("idle")) == idle_runs
        assert len(fake.starts("busy")) == busy_runs
        # the check in flight when it was removed finished and reported
        assert all(run.ended and not run.cancelled for run in fake.runs if run.monitor == "busy")
        assert [r.monitor for r in results.results].count("busy") == busy_runs


async def test_a_monitor_replaced_while_its_check_runs_runs_again_only_after_it(
    fake: FakeChecks,
) -> None:
    """A reload (or an API PUT) replacing a monitor mid-check: the new definition waits for
    the old one's check, so the monitor never runs twice at once."""
    scheduler = Scheduler([fake.monitor("api", gated=True)], ResultLog(), startup_spread=0)
    async with running(scheduler):
        await until(lambda: len(fake.starts("api")) == 1)
        loop = asyncio.get_running_loop()
        scheduler.add(fake.monitor("api", interval=30.0), at=loop.time())
        scheduler.add(fake.monitor("api", interval=40.0), at=loop.time())  # and again
        await asyncio.sleep(0.2)
        assert len(fake.starts("api")) == 1, "held while the first check runs"
        fake.gate.set()
        await until(lambda: len(fake.starts("api")) == 2)
        assert fake.most_per_monitor["api"] == 1
        assert scheduler.next_run("api") is not None
        await asyncio.sleep(0.2)
        assert len(fake.starts("api")) == 2, "the last definition ran once, then waits 40 s"


async def test_a_paused_monitor_never_runs(fake: FakeChecks) -> None:
    monitors = [
        fake.monitor("paused", interval=0.05, paused=True),
        fake.monitor("active", interval=0.05),
    ]
    scheduler = Scheduler(monitors, ResultLog(), startup_spread=0)
    async with running(scheduler):
        assert scheduler.monitors == 1
        assert not scheduler.run_now("paused")
        scheduler.add(monitors[0])  # adding it again changes nothing
        await until(lambda: len(fake.starts("active")) >= 5)

    assert fake.starts("paused") == []


# -- shutdown -------------------------------------------------------------------------------------
async def test_stop_starts_nothing_new_and_drain_cancels_what_outlives_the_grace(
    fake: FakeChecks,
) -> None:
    loop = asyncio.get_running_loop()
    monitors = [
        fake.monitor("quick", hold=0.1),
        fake.monitor("stuck-1", gated=True),
        fake.monitor("stuck-2", gated=True),
        fake.monitor("queued-1", gated=True),
        fake.monitor("queued-2", gated=True),
        fake.monitor("frequent", interval=0.02),
    ]
    results = ResultLog()
    scheduler = Scheduler(monitors, results, concurrency=3, startup_spread=0)
    dispatching = asyncio.create_task(scheduler.run())
    await until(lambda: len(fake.runs) == 3 and scheduler.waiting == 3)

    scheduler.stop()
    stopped = loop.time()
    await asyncio.wait_for(dispatching, DEADLINE)
    await asyncio.wait_for(scheduler.drain(0.4), DEADLINE)  # gives up on what outlives 0.4 s
    drained = loop.time()
    await asyncio.sleep(0.1)

    assert [run.monitor for run in fake.runs] == ["quick", "stuck-1", "stuck-2"]
    assert [result.monitor for result in results.results] == ["quick"]  # within the grace
    assert [run.monitor for run in fake.runs if run.cancelled] == ["stuck-1", "stuck-2"]
    assert drained - stopped >= 0.4 - EPSILON
    assert scheduler.in_flight == 0
    assert scheduler.waiting == 0


# -- bugs and bookkeeping -------------------------------------------------------------------------
async def test_a_failing_result_handler_is_logged_and_the_monitor_keeps_running(
    fake: FakeChecks, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[str] = []

    async def on_result(monitor: Monitor, result: Result) -> bool:
        handled.append(monitor.name)
        raise RuntimeError("a bug in a listener")

    with caplog.at_level(logging.ERROR, logger="watchkeeper.engine"):
        scheduler = Scheduler([fake.monitor("api", interval=0.05)], on_result, startup_spread=0)
        async with running(scheduler):
            await until(lambda: len(handled) >= 4)

    failures = [r for r in caplog.records if r.getMessage() == "handling the result of api failed"]
    assert len(failures) >= 4
    assert all(r.exc_info is not None and r.exc_info[0] is RuntimeError for r in failures)


async def test_lag_is_recorded_for_every_start_queueing_included(fake: FakeChecks) -> None:
    monitors = [fake.monitor(f"m{i}", hold=0.1) for i in range(5)]
    scheduler = Scheduler(monitors, ResultLog(), concurrency=1, startup_spread=0)
    async with running(scheduler):
        await until(lambda: len(fake.ended()) == 5)

    stats = scheduler.stats
    assert stats.started == 5
    assert stats.lag_total.get_total_count() == stats.started
    assert stats.queued == 4
    assert stats.lag_seconds(100) >= 0.4 - EPSILON  # the fifth waited for four 100 ms checks


def test_lag_kept_raw_and_folded_once_a_minute_keeps_its_percentiles() -> None:
    from watchkeeper.engine.scheduler import SchedulerStats

    stats = SchedulerStats()
    rng = random.Random(3)
    first = [rng.expovariate(1 / 0.002) for _ in range(20_000)]  # a start-up: ~2 ms
    second = [rng.expovariate(1 / 0.0002) for _ in range(20_000)]  # steady: ~0.2 ms
    for i, lag in enumerate(first):
        stats.record_lag(lag, 100.0 + i * 0.002)
    assert stats.last_minute_lag(99) is None  # no whole minute yet
    for i, lag in enumerate(second):
        stats.record_lag(lag, 161.0 + i * 0.002)
    stats.record_lag(0.0001, 230.0)  # the second minute closes

    def exact(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    recent = stats.last_minute_lag(99)
    assert recent is not None and recent == pytest.approx(exact(second, 99), rel=0.02)
    everything = [*first, *second, 0.0001]
    assert stats.lag_seconds(99) == pytest.approx(exact(everything, 99), rel=0.02)
    assert stats.lag_seconds(50) == pytest.approx(exact(everything, 50), rel=0.02)
    assert stats.lag_total.get_total_count() == len(everything)
