"""A hanging or dripping target costs its own monitor its timeout, and nobody else anything:
every other monitor still runs (check_once and the Scheduler). No bound here is a stopwatch:
side by side means each started before another's timeout ran out, and "still runs" means a
healthy monitor reports while the others are known to hang."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import pytest
from aiohttp import web
from tests.checks.conftest import monitors_from
from tests.helpers.servers import WebServer

from watchkeeper import lanes
from watchkeeper.checks import Resources
from watchkeeper.engine import Scheduler, run_check

DEADLINE = 20.0
"""Seconds to wait for an event before failing; generous for a loaded 2-core machine."""


async def test_check_once_runs_hanging_monitors_side_by_side_with_a_healthy_one(
    check_all, web, hanging_server, slowloris_server, dripping_body_server, silent_dns_server
):
    results = await check_all(f"""
        monitors:
          - name: healthy
            http: {web.url("/health")}
            timeout: 1s
          - name: hanging
            http: {hanging_server.url("/health")}
            timeout: 1s
          - name: slowloris
            http: {slowloris_server.url("/health")}
            timeout: 1s
          - name: dripping
            http: {dripping_body_server.url("/health")}
            timeout: 1s
          - name: dns
            dns: {{name: www.example.test, resolver: "{silent_dns_server.address}"}}
            timeout: 1s
        """)
    healthy, *stuck = results
    assert healthy.monitor == "healthy"
    assert healthy.ok, healthy.reason
    assert [result.monitor for result in stuck] == ["hanging", "slowloris", "dripping", "dns"]
    for result in stuck:
        assert not result.ok
        assert result.error is not None and "timeout" in result.error, result
    # Side by side, not one after another: each started before the first one's one-second
    # timeout ran out (in a line, each would start when the one before it gave up).
    starts = sorted(result.started_at for result in stuck)
    assert starts[-1] - starts[0] < 1.0, starts


async def test_a_healthy_monitor_keeps_its_interval_while_others_hang(
    monitors, web, hanging_server, slowloris_server, dripping_body_server
):
    # the three stuck ones hang for longer than the test waits: while they are in flight,
    # the healthy one must keep reporting (their timeouts are check_once's test above)
    watched = monitors(f"""
        monitors:
          - name: healthy
            http: {web.url("/health")}
            interval: 300ms
            timeout: 300ms
          - name: hanging
            http: {hanging_server.url("/health")}
            interval: 1m
            timeout: 1m
          - name: slowloris
            http: {slowloris_server.url("/health")}
            interval: 1m
            timeout: 1m
          - name: dripping
            http: {dripping_body_server.url("/health")}
            interval: 1m
            timeout: 1m
        """)
    results = defaultdict(list)

    async def on_result(monitor, result):
        results[monitor.name].append(result)
        return False

    def healthy_reports() -> int:
        return sum(result.ok for result in results["healthy"])

    scheduler = Scheduler(watched, on_result, startup_spread=0)
    loop = asyncio.create_task(scheduler.run())
    try:
        try:
            async with asyncio.timeout(DEADLINE):
                while healthy_reports() < 5:  # noqa: ASYNC110 - results arrive by callback
                    await asyncio.sleep(0.05)
        except TimeoutError:
            pytest.fail(f"healthy reported {healthy_reports()} times in {DEADLINE}s", False)
        in_flight = scheduler.in_flight
    finally:
        scheduler.stop()
        await loop
        await scheduler.drain(1.0)
        await scheduler.resources.aclose()

    assert in_flight >= 3, "the stuck checks were in flight all along"
    for name in ("hanging", "slowloris", "dripping"):
        assert not results[name], f"{name} cannot have answered: {results[name]}"


async def test_a_large_body_is_judged_off_the_event_loop(resources: Resources) -> None:
    """A megabyte of random a/b text under a pattern that makes RE2's DFA give up: linear, but
    most of a second of CPU, spent on a judging thread while the event loop goes on."""
    rng = random.Random(7)
    body = "".join(rng.choice("ab") for _ in range(1 << 20)) + "c"

    async def big(_: web.Request) -> web.Response:
        return web.Response(text=body)

    app = web.Application()
    app.router.add_get("/big", big)
    async with WebServer(app) as server:
        (monitor,) = monitors_from(
            f"""
            monitors:
              - name: big
                http: {{url: "{server.url("/big")}", max_body: 2MiB}}
                timeout: 30s
                interval: 1m
                expect: ["body matches 'a[ab]{{200}}c$'", "body not matches 'b{{300}}'"]
            """
        )
        calls = lanes.JUDGING.calls
        result = await run_check(monitor, resources)
    assert result.ok, (result.error, result.failures)
    # judged on the judging lane, not the loop (watching ``pending`` from the loop raced the
    # thread: on a busy machine the whole judgement could fall between two turns of it)
    assert lanes.JUDGING.calls == calls + 1, "the body was not judged on the judging lane"
