"""``/metrics`` against the real tools: Debian's promtool lints it, and a real Prometheus
(started here on a free port with its own storage) scrapes it with a bearer token."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.helpers.certs import CertificateSet
from tests.helpers.ports import free_port as _free_port
from tests.helpers.site import Site
from tests.helpers.web_app import ProbeTargetServer

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
KEY = "0123456789abcdef0123456789abcdef"


def config(web: ProbeTargetServer, https: ProbeTargetServer, ca_file: Path) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 300ms, timeout: 250ms, confirm: 1}}
monitors:
  - {{name: api, http: "{web.url("/health")}"}}
  - {{name: missing, http: "{web.url("/missing")}"}}
  - name: secure
    http: {{url: "{https.url("/health", host="localhost")}", ca_file: "{ca_file}"}}
    expect: ["cert.expires_in > 1d"]
projects:
  - {{name: shop, key: "{KEY}", rate_limit: 2/m}}
"""


@pytest.fixture
async def https(certificates: CertificateSet) -> AsyncIterator[ProbeTargetServer]:
    async with ProbeTargetServer(ssl_context=certificates.valid.server_context()) as server:
        yield server


@pytest.fixture
async def site(
    tmp_path: Path,
    web: ProbeTargetServer,
    https: ProbeTargetServer,
    certificates: CertificateSet,
) -> AsyncIterator[Site]:
    async with Site(config(web, https, certificates.ca_file), tmp_path) as running:
        deadline = time.monotonic() + 15
        while not all(
            (s := running.engine.status.get(n)) and s.last_result
            for n in ("api", "missing", "secure")
        ):
            assert time.monotonic() < deadline, "the monitors never ran"
            await asyncio.sleep(0.1)
        yield running


async def scrape(site: Site) -> str:
    async with site.client(site.token("read")) as client, client.get("/metrics") as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return await answer.text()


async def test_metrics_say_what_each_monitor_is_doing(site: Site) -> None:
    text = await scrape(site)
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples['watchkeeper_monitor_up{monitor="api"}'] == 1.0
    assert samples['watchkeeper_monitor_up{monitor="missing"}'] == 0.0
    assert samples['watchkeeper_monitor_state{monitor="missing",state="down"}'] == 1.0
    assert samples['watchkeeper_monitor_state{monitor="missing",state="up"}'] == 0.0
    assert samples['watchkeeper_checks_total{monitor="missing",outcome="failed"}'] >= 1
    assert samples['watchkeeper_checks_total{monitor="api",outcome="ok"}'] >= 1
    bucket = "watchkeeper_check_duration_seconds_bucket"
    count = samples['watchkeeper_check_duration_seconds_count{monitor="api",phase="total"}']
    assert samples[f'{bucket}{{le="+Inf",monitor="api",phase="total"}}'] == count
    assert f'{bucket}{{le="+Inf",monitor="secure",phase="tls"}}' in samples
    assert f'{bucket}{{le="+Inf",monitor="api",phase="tls"}}' not in samples, "no TLS: no phase"
    left = samples['watchkeeper_certificate_expires_in_seconds{monitor="secure"}'] / 86400
    assert 85 < left < 95, "the test CA's leaves live 90 days"
    assert samples['watchkeeper_build_info{version="0.1.0"}'] == 1.0
    assert samples["watchkeeper_store_queue_depth"] >= 0
    assert samples["watchkeeper_outbox_depth"] == 0
    assert samples['watchkeeper_scheduler_lag_seconds{quantile="0.99"}'] >= 0


async def test_promtool_finds_nothing_wrong_with_the_exposition(site: Site) -> None:
    text = await scrape(site)
    process = await asyncio.create_subprocess_exec(
        PROMTOOL,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(text.encode())
    assert process.returncode == 0, (out + err).decode()
    assert not (out + err).strip(), (out + err).decode()


async def test_metrics_count_the_error_trackers_events_by_outcome(site: Site) -> None:
    async def send(number: int) -> int:
        event = {"event_id": f"{number:032x}", "message": "queue is full", "level": "error"}
        async with (
            aiohttp.ClientSession() as client,
            client.post(f"{site.url}/api/1/store/?sentry_key={KEY}", json=event) as answer,
        ):
            return answer.status

    assert [await send(n) for n in (1, 2, 3, 1)] == [200, 200, 429, 200]
    await site.engine.errors.flush()
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in (await scrape(site)).splitlines()
        if line.startswith("watchkeeper_error_")
    }

    assert samples["watchkeeper_error_requests_total"] == 4
    assert {
        outcome: samples[f'watchkeeper_error_events_total{{outcome="{outcome}"}}']
        for outcome in ("accepted", "duplicate", "rate_limited", "refused", "dropped")
    } == {"accepted": 2, "duplicate": 1, "rate_limited": 1, "refused": 0, "dropped": 0}
    assert samples["watchkeeper_error_requests_limited_total"] == 1
    assert samples["watchkeeper_error_events_written_total"] == 2
    assert samples["watchkeeper_error_queue_depth"] == 0
    assert samples["watchkeeper_error_alerts_total"] == 0, "the project has no routes"


@contextlib.asynccontextmanager
async def prometheus(folder: Path, target: str, token: str) -> AsyncIterator[str]:
    port = _free_port()
    host = target.removeprefix("http://")
    (folder / "token").write_text(token)
    (folder / "prometheus.yml").write_text(
        f"""
global: {{scrape_interval: 1s, scrape_timeout: 900ms}}
scrape_configs:
  - job_name: watchkeeper
    authorization: {{credentials_file: {folder / "token"}}}
    static_configs: [{{targets: ["{host}"]}}]
"""
    )
    log = await asyncio.to_thread((folder / "prometheus.log").open, "wb")
    process = await asyncio.create_subprocess_exec(
        PROMETHEUS,
        f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        await process.wait()
        log.close()


async def query(client: aiohttp.ClientSession, base: str, expression: str) -> list[Any]:
    async with client.get(f"{base}/api/v1/query", params={"query": expression}) as answer:
        if answer.status != 200:
            return []
        body = json.loads(await answer.text())
        return list(body["data"]["result"])


async def test_a_real_prometheus_scrapes_us_with_a_token(site: Site, tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    async with (
        prometheus(folder, site.url, site.token("read")) as base,
        aiohttp.ClientSession() as client,
    ):
        deadline = time.monotonic() + 40
        found: list[Any] = []
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                found = await query(client, base, "watchkeeper_monitor_up")
                if len(found) == 3:
                    break
            await asyncio.sleep(0.5)
        log = (folder / "prometheus.log").read_text()
        assert len(found) == 3, log[-2000:]
        up = {r["metric"]["monitor"]: r["value"][1] for r in found}
        assert up == {"api": "1", "missing": "0", "secure": "1"}
        [target] = await _targets(client, base)
        assert target["health"] == "up", target
        quantile = []
        while time.monotonic() < deadline and not quantile:
            quantile = await query(
                client,
                base,
                "histogram_quantile(0.5, rate(watchkeeper_check_duration_seconds_bucket"
                '{monitor="api",phase="total"}[5s]))',
            )
            await asyncio.sleep(0.5)
        assert quantile and float(quantile[0]["value"][1]) > 0


async def _targets(client: aiohttp.ClientSession, base: str) -> list[Any]:
    async with client.get(f"{base}/api/v1/targets") as answer:
        body = await answer.json()
        return list(body["data"]["activeTargets"])
