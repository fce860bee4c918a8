"""The concurrency sweep and the USL fit on a real server whose slowdown follows a
contention model, and the knee and plan arithmetic."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from rich.console import Console
from tests.helpers.servers import WebServer
from tests.helpers.threaded import ThreadedServer

from watchkeeper.loadtest.capacity import (
    Capacity,
    Options,
    Point,
    Step,
    concurrency_sweep,
    find_knee,
    fit_warning,
    make_plan,
    steady,
)
from watchkeeper.loadtest.generator import Generator, Settings
from watchkeeper.loadtest.plan import constant, parse_slo
from watchkeeper.loadtest.results import judge
from watchkeeper.loadtest.target import from_url
from watchkeeper.loadtest.usl import fit
from watchkeeper.report.capacity import capacity_html, terminal

BASE, ALPHA, BETA = 0.040, 0.05, 0.01  # USL: peak at N* = sqrt(0.95 / 0.01) ≈ 9.7
# BASE 40 ms: about 100 req/s at the peak. At 10 ms (400 req/s) the server thread and the
# generator needed more CPU than a loaded two-core machine gave them: per-request CPU waits,
# not the model, set the throughput (25-70 instead of 100 req/s at one user) and the USL fit
# of that sweep fell to R² 0.88 in 2 of 5 sweeps; at 40 ms, 0.94-0.99 in 5 of 5, same load.


class Contended(ThreadedServer):
    """Each request takes BASE × (1 + α(n − 1) + βn(n − 1)) with n requests in flight: the
    Universal Scalability Law's own shape, so its throughput peaks and then falls."""

    def __init__(self) -> None:
        self.inflight = 0
        super().__init__(self._app)

    def _app(self) -> web.Application:
        async def answer(request: web.Request) -> web.Response:
            self.inflight += 1
            n = self.inflight
            try:
                await asyncio.sleep(BASE * (1 + ALPHA * (n - 1) + BETA * n * (n - 1)))
            finally:
                self.inflight -= 1
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/", answer)
        return app


@pytest.fixture
async def contended() -> AsyncIterator[Contended]:
    async with Contended() as server:
        yield server


async def test_the_fitted_peak_is_within_20_percent_of_the_measured_one(
    contended: Contended,
) -> None:
    loads = (1, 2, 4, 6, 8, 10, 12, 16, 24, 32)
    # a second per load: the model server's throughput is steady from the first (fitted
    # peak within 0.3 % of the measured one, as with two seconds a load, R² 1.0 either way)
    options = Options(thresholds=(), sweep_seconds=1.0, warmup=0.25, loads=loads)
    target = from_url(contended.url("/"))
    sweep = await asyncio.to_thread(concurrency_sweep, target, Settings(), options, lambda _: None)
    assert not any(point.capped for point in sweep)
    measured_n, measured_x = max(((p.concurrency, p.throughput) for p in sweep), key=lambda p: p[1])
    found = fit([p.concurrency for p in sweep], [p.throughput for p in sweep])
    assert found.peak_n is not None and not found.extrapolated
    assert found.peak_throughput == pytest.approx(measured_x, rel=0.2)
    assert found.peak_n == pytest.approx(measured_n, rel=0.5)  # the coarse grid's own step
    assert found.r_squared > 0.9
    assert sweep[-1].throughput < measured_x, (
        "past the peak, more load is slower: the data shows it"
    )


async def test_a_step_answered_only_with_404s_has_every_request_in_error() -> None:
    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such page")

    app = web.Application()
    app.router.add_get("/", missing)
    async with WebServer(app) as server:
        generator = Generator(from_url(server.url("/")), Settings(steady_after=0.5))
        tally = await generator.run_open(constant(100, 2))
    window = steady(tally, 0.5, 2)
    assert window["error_rate"] == 1.0, window
    assert not judge(window, parse_slo("errors<60%"))[0]["passed"]


class Unhurried(ThreadedServer):
    """10 ms per request, as many at once as come (100 req/s per user); notes each arrival."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        super().__init__(self._app)

    def _app(self) -> web.Application:
        async def answer(request: web.Request) -> web.Response:
            self.arrivals.append(time.monotonic())
            await asyncio.sleep(0.010)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/", answer)
        return app

    def busiest_second(self) -> int:
        """The most requests that arrived within any one second."""
        times = sorted(self.arrivals)
        return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


async def test_the_sweep_never_goes_over_max_rate_and_stops_where_it_reaches_it() -> None:
    loads = (1, 2, 4, 8, 16, 32)
    options = Options(thresholds=(), sweep_seconds=1.5, warmup=0.3, loads=loads, max_rate=150)
    async with Unhurried() as server:
        target = from_url(server.url("/"))
        sweep = await asyncio.to_thread(concurrency_sweep, target, Settings(), options, print)
    assert server.busiest_second() <= 150 * 1.05, server.busiest_second()
    assert all(point.throughput <= 150 for point in sweep), sweep
    # one user is about 100 req/s (less on a busy machine), below the cap; two would be 200,
    # held to 150, and so would every higher load be: the sweep stops at the first that is
    assert sweep[-1].capped and not any(p.capped for p in sweep[:-1]), sweep
    assert len(sweep) < len(loads) and sweep[0].throughput < 150 * 0.9, sweep


def test_a_fit_that_explains_little_gives_no_verdict_and_the_measurements_are_shown() -> None:
    sweep = [
        Point(n, x) for n, x in zip((1, 2, 4, 8, 16, 32), (99, 101, 98, 100, 99, 101), strict=True)
    ]
    found = fit([p.concurrency for p in sweep], [p.throughput for p in sweep])
    assert found.r_squared < 0.8, "a flat, noisy sweep: the USL explains nothing of it"
    plan = make_plan(400.0, Options(thresholds=()), found, sweep)
    warning = fit_warning(found)
    assert warning is not None and "explains little" in warning
    assert "peaks near" not in plan["scaling"]
    assert plan["scaling"].startswith("measured: the most throughput was 101 req/s at 2")
    data = Capacity([], 400.0, None, sweep, found, None, None, None, [warning], plan).to_json()
    assert data["usl"]["trusted"] is False
    assert data["measured_peak"] == {"concurrency": 2, "throughput_rps": 101}
    console = Console(record=True, width=200)
    console.print(terminal(data, "http://127.0.0.1:8080"))
    shown = console.export_text()
    assert "explains little" in shown and "N* ≈" not in shown, shown
    assert "1 → 99, 2 → 101, 4 → 98" in shown, "the measured sweep instead"
    page = capacity_html(data, "http://127.0.0.1:8080")
    assert "explains little" in page and '"label":"USL fit"' not in page


def test_a_fit_that_explains_the_sweep_gives_its_peak() -> None:
    loads = [1, 2, 4, 6, 8, 10, 12, 16]
    sweep = [Point(n, 100 * n / (1 + 0.05 * (n - 1) + 0.01 * n * (n - 1))) for n in loads]
    found = fit(loads, [p.throughput for p in sweep])
    assert found.r_squared > 0.99 and fit_warning(found) is None
    plan = make_plan(400.0, Options(thresholds=()), found, sweep)
    assert plan["scaling"].startswith("throughput peaks near 10 concurrent requests")


def _step(rate: float, p99: float, passed: bool = True) -> Step:
    summary = {"latency_ms": {"p99": p99}, "error_rate": 0.0}
    return Step(rate, summary, passed)


def test_the_knee_is_where_p99_doubles_and_the_plan_counts_replicas() -> None:
    steps = [_step(100, 10), _step(200, 12), _step(400, 15), _step(800, 45, passed=False)]
    assert find_knee(steps) == 800
    plan = make_plan(400.0, Options(thresholds=(), expect=10, current_rps=150), None, [])
    assert plan["peak_rps"] == 1500 and plan["replicas"] == 6  # 1500 / (400 × 0.7) = 5.4
    assert plan["headroom"] == pytest.approx(400 / 1500, abs=0.001)
    alone = make_plan(400.0, Options(thresholds=(), expect=10), None, [])
    assert alone["current_rps_that_fits"] == 40.0
    assert "give --current-rps" in alone["verdict"]
    assert make_plan(None, Options(thresholds=()), None, [])["verdict"].startswith(
        "the target did not"
    )
