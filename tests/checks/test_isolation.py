"""A hanging or dripping target costs its own monitor its timeout, and nobody else anything:
every other monitor still runs on time (check_once and the Scheduler)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict

from aiohttp import web
from tests.checks.conftest import monitors_from
from tests.helpers.servers import WebServer

from watchkeeper import lanes
from watchkeeper.checks import Resources
from watchkeeper.engine import Scheduler, run_check

MARGIN = 0.75  # seconds; a functional bound for a loaded 2-core machine, not a benchmark


async def test_check_once_runs_hanging_monitors_side_by_side_with_a_healthy_one(
    check_all, web, hanging_server, slowloris_server, dripping_body_server, silent_dns_server
):
    started = time.perf_counter()
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
    elapsed = time.perf_counter() - started
    healthy, *stuck = results
    assert healthy.monitor == "healthy"
    assert healthy.ok, healthy.reason
    assert [result.monitor for result in stuck] == ["hanging", "slowloris", "dripping", "dns"]
    for result in stuck:
        assert not result.ok
        assert result.error is not None and "timeout" in result.error, result
    # Four one-second timeouts side by side take about one second, not four.
    assert elapsed < 1.0 + MARGIN


async def test_a_healthy_monitor_keeps_its_interval_while_others_hang(
    monitors, web, hanging_server, slowloris_server, dripping_body_server
):
    watched = monitors(f"""
        monitors:
          - name: healthy
            http: {web.url("/health")}
            interval: 200ms
            timeout: 200ms
          - name: hanging
            http: {hanging_server.url("/health")}
            interval: 1s
            timeout: 500ms
          - name: slowloris
            http: {slowloris_server.url("/health")}
            interval: 1s
            timeout: 500ms
          - name: dripping
            http: {dripping_body_server.url("/health")}
            interval: 1s
            timeout: 500ms
        """)
    results = defaultdict(list)

    async def on_result(monitor, result):
        results[monitor.name].append(result)
        return False

    run_for = 2.0
    scheduler = Scheduler(watched, on_result, startup_spread=0)
    loop = asyncio.create_task(scheduler.run())
    try:
        await asyncio.sleep(run_for)
    finally:
        scheduler.stop()
        await loop
        await scheduler.drain(1.0)
        await scheduler.resources.aclose()

    healthy = results["healthy"]
    expected_runs = run_for / 0.2
    assert len(healthy) >= 0.8 * expected_runs, [r.started_at for r in healthy]
    assert all(result.ok for result in healthy), [r.reason for r in healthy if not r.ok]
    for name in ("hanging", "slowloris", "dripping"):
        assert results[name], f"{name} never reported"
        for result in results[name]:
            assert result.error is not None and result.error.startswith("timeout after 500ms")


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
        judging = asyncio.create_task(run_check(monitor, resources))
        seen_on_a_thread = False
        while not judging.done():
            seen_on_a_thread = seen_on_a_thread or lanes.JUDGING.pending > 0
            await asyncio.sleep(0)
        result = judging.result()
    assert result.ok, (result.error, result.failures)
    assert seen_on_a_thread, "the loop ran other work while the body was judged"
