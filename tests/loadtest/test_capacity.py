"""The concurrency sweep and the USL fit on a real server whose slowdown follows a
contention model, and the knee and plan arithmetic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from tests.helpers.servers import WebServer
from tests.helpers.threaded import ThreadedServer

from watchkeeper.loadtest.capacity import (
    Options,
    Step,
    concurrency_sweep,
    find_knee,
    make_plan,
    steady,
)
from watchkeeper.loadtest.generator import Generator, Settings
from watchkeeper.loadtest.plan import constant, parse_slo
from watchkeeper.loadtest.results import judge
from watchkeeper.loadtest.target import from_url
from watchkeeper.loadtest.usl import fit

BASE, ALPHA, BETA = 0.010, 0.05, 0.01  # USL: peak at N* = sqrt(0.95 / 0.01) ≈ 9.7


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
    options = Options(thresholds=(), sweep_seconds=2.0, warmup=0.5, loads=loads)
    target = from_url(contended.url("/"))
    sweep = await asyncio.to_thread(concurrency_sweep, target, Settings(), options, lambda _: None)
    measured_n, measured_x = max(sweep, key=lambda point: point[1])
    found = fit([n for n, _ in sweep], [x for _, x in sweep])
    assert found.peak_n is not None and not found.extrapolated
    assert found.peak_throughput == pytest.approx(measured_x, rel=0.2)
    assert found.peak_n == pytest.approx(measured_n, rel=0.5)  # the coarse grid's own step
    assert found.r_squared > 0.9
    assert sweep[-1][1] < measured_x, "past the peak, more load is slower: the data shows it"


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


def _step(rate: float, p99: float, passed: bool = True) -> Step:
    summary = {"latency_ms": {"p99": p99}, "error_rate": 0.0}
    return Step(rate, summary, passed)


def test_the_knee_is_where_p99_doubles_and_the_plan_counts_replicas() -> None:
    steps = [_step(100, 10), _step(200, 12), _step(400, 15), _step(800, 45, passed=False)]
    assert find_knee(steps) == 800
    plan = make_plan(400.0, Options(thresholds=(), expect=10, current_rps=150), None)
    assert plan["peak_rps"] == 1500 and plan["replicas"] == 6  # 1500 / (400 × 0.7) = 5.4
    assert plan["headroom"] == pytest.approx(400 / 1500, abs=0.001)
    alone = make_plan(400.0, Options(thresholds=(), expect=10), None)
    assert alone["current_rps_that_fits"] == 40.0
    assert "give --current-rps" in alone["verdict"]
    assert make_plan(None, Options(thresholds=()), None)["verdict"].startswith("the target did not")
