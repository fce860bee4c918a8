"""The prometheus check: scrapes a real node_exporter and an exposition this test serves (a
counter it controls, for rates), holds series to expectations, stores the chosen ones."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import psutil
import pytest
from aiohttp import web
from tests.helpers.alerting import eventually
from tests.helpers.node_exporter import NodeExporter
from tests.helpers.site import Site

from watchkeeper.errors import ConfigError
from watchkeeper.model import Result, State

Check = Callable[[str], Awaitable[Result]]


@pytest.fixture
def node_exporter() -> Iterator[NodeExporter]:
    exporter = NodeExporter().start()
    try:
        yield exporter
    finally:
        exporter.stop()


class Exposition:
    """``/metrics`` with a counter that grows 50 per second of wall time, and gauges."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.port = 0
        self.body_override: bytes | None = None

    def text(self) -> str:
        served = int((time.monotonic() - self.started) * 50)
        return (
            "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"
            f'http_requests_total{{code="200",method="GET"}} {served}\n'
            f'http_requests_total{{code="500",method="GET"}} 3\n'
            f'http_requests_total{{code="200",method="POST"}} {served // 2}\n'
            "# HELP queue_depth Jobs waiting.\n# TYPE queue_depth gauge\n"
            'queue_depth{queue="mail"} 7\nqueue_depth{queue="thumbnails"} 40\n'
        )

    async def handle(self, request: web.Request) -> web.Response:
        if self.body_override is not None:
            return web.Response(body=self.body_override, content_type="text/plain")
        return web.Response(text=self.text(), content_type="text/plain")


@pytest.fixture
async def exposition() -> AsyncIterator[Exposition]:
    served = Exposition()
    app = web.Application()
    app.router.add_get("/metrics", served.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    served.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield served
    await runner.cleanup()


def meminfo(field: str) -> int:
    with open("/proc/meminfo") as lines:
        for line in lines:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(field)


async def test_node_exporter_series_meet_expectations_and_are_stored(
    check: Check, node_exporter: NodeExporter
) -> None:
    result = await check(f"""
        monitors:
          - name: node
            prometheus: {{url: "{node_exporter.url}", series: [node_memory_MemTotal_bytes]}}
            timeout: 5s
            expect:
              - 'metric.node_cpu_seconds_total.rate > 0'
              - 'metric.node_cpu_seconds_total{{mode=~"user|system"}}.count >= 2'
              - "metric.node_memory_MemAvailable_bytes.value > 1MiB"
              - 'metric.node_filesystem_avail_bytes{{mountpoint="/"}}.count >= 1'
        """)
    assert result.ok, result.reason
    metrics = result.metrics
    assert metrics["metric.node_memory_MemTotal_bytes.value"] == meminfo("MemTotal")
    # CPU-seconds per second over every mode: the cores there are (idle may be 0 on a busy
    # machine, the sum never is)
    spent = metrics["metric.node_cpu_seconds_total.rate"]
    cores = psutil.cpu_count() or 1
    assert 0.5 * cores < spent < 1.5 * cores, (spent, cores)
    assert metrics["prometheus.series"] > 100
    assert result.phases.ttfb is not None and result.phases.transfer is not None


async def test_rates_sums_and_label_matchers_on_an_app_exposition(
    check: Check, exposition: Exposition
) -> None:
    url = f"http://127.0.0.1:{exposition.port}/metrics"
    text = f"""
        monitors:
          - name: app
            prometheus: "{url}"
            timeout: 5s
            expect:
              - 'metric.http_requests_total{{code="500"}}.rate < 1'
              - 'metric.http_requests_total{{code="200",method="GET"}}.rate > 40'
              - 'metric.http_requests_total{{code=~"2.."}}.count == 2'
              - 'metric.queue_depth.max == 40'
              - 'metric.queue_depth{{queue!="thumbnails"}}.value == 7'
        """
    result = await check(text)
    assert result.ok, result.reason
    rate = result.metrics['metric.http_requests_total{code="200",method="GET"}.rate']
    assert 40 < rate < 60, rate  # it grows 50/s
    assert result.metrics["metric.queue_depth.value"] == 47
    failing = await check(text.replace(".max == 40", ".max < 10"))
    assert not failing.ok
    assert failing.failures == ["metric.queue_depth.max 40.0, expected < 10"]


async def test_scrape_failures_are_one_line(check: Check, exposition: Exposition) -> None:
    url = f"http://127.0.0.1:{exposition.port}"
    missing = await check(f"""
        monitors:
          - {{name: app, prometheus: "{url}/nothing-here", expect: ["metric.up.value == 1"]}}
        """)
    assert missing.error == f"HTTP 404 from {url}/nothing-here"
    exposition.body_override = b"this is { not an exposition\n"
    garbage = await check(f"""
        monitors:
          - {{name: app, prometheus: "{url}/metrics", expect: ["metric.up.value == 1"]}}
        """)
    assert garbage.error is not None and garbage.error.startswith("not the Prometheus text")
    exposition.body_override = b"big 1\n" * 100_000
    huge = await check(f"""
        monitors:
          - name: app
            prometheus: {{url: "{url}/metrics", max_body: 64KiB}}
            expect: ["metric.big.value > 0"]
        """)
    assert huge.error == "the exposition is over 65536 bytes (max_body)"
    refused = await check("""
        monitors:
          - {name: app, prometheus: "http://127.0.0.1:1/metrics", expect: ["metric.up.value == 1"]}
        """)
    assert refused.error is not None and refused.error.startswith("cannot scrape")


async def test_a_selector_with_no_matching_series_fails_by_its_count(
    check: Check, exposition: Exposition
) -> None:
    result = await check(f"""
        monitors:
          - name: app
            prometheus: "http://127.0.0.1:{exposition.port}/metrics"
            expect: ['metric.http_requests_total{{code="503"}}.count >= 1']
        """)
    assert result.failures == ['metric.http_requests_total{code="503"}.count 0, expected >= 1']


async def test_wk_up_stores_the_chosen_series_and_sees_the_exporter_die(
    tmp_path: Path, node_exporter: NodeExporter
) -> None:
    config = f"""
storage: sqlite:///{tmp_path}/wk.db
monitors:
  - name: node
    prometheus: {{url: "{node_exporter.url}", series: [node_memory_MemTotal_bytes]}}
    interval: 1s
    timeout: 1s
    confirm: 2
    expect: ['metric.node_cpu_seconds_total{{mode="idle"}}.count >= 1']
"""
    async with Site(config, tmp_path) as site:
        await eventually(lambda: site.engine.status["node"].state is State.UP)
        await eventually(lambda: site.engine.writer.written >= 2)  # type: ignore[union-attr]
        points = site.store.samples(
            "node", "metric.node_memory_MemTotal_bytes.value", time.time() - 60, time.time(), "raw"
        )
        assert points and all(p.last == meminfo("MemTotal") for p in points)
        node_exporter.stop()
        await eventually(lambda: site.engine.status["node"].state is State.DOWN)
        assert (site.engine.status["node"].reason or "").startswith("cannot scrape")


async def test_regex_label_matchers_run_in_linear_time_on_hostile_label_values(
    check: Check, exposition: Exposition
) -> None:
    """A target controls its label values: with Python's re, (a+)+ against this one would
    take days; on RE2 (as in Prometheus itself) it is an ordinary count."""
    hostile = "a" * 100_000 + "!"
    exposition.body_override = f'requests_total{{path="{hostile}"}} 3\nrequests_total 1\n'.encode()
    result = await check(f"""
        monitors:
          - name: app
            prometheus: "http://127.0.0.1:{exposition.port}/metrics"
            expect:
              - 'metric.requests_total{{path=~"(a+)+"}}.count == 0'
              - 'metric.requests_total{{path=~"(a|aa)+!"}}.count == 1'
              - 'metric.requests_total{{path!~"(a|a?)+"}}.value == 3'
        """)
    assert result.ok, result.reason


def test_a_label_matcher_re2_cannot_take_is_refused_at_load(
    monitors: Callable[[str], object],
) -> None:
    with pytest.raises(ConfigError) as caught:
        monitors("""
            monitors:
              - name: app
                prometheus: {url: "http://127.0.0.1:1/metrics", series: ['up{job=~"(a)\\\\1"}']}
            """)
    assert "bad regular expression" in str(caught.value)
    assert "no backreferences" in str(caught.value)
