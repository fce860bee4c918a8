"""The REST API against the real app on a real port, watching a real HTTP target."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.helpers.site import Site
from tests.helpers.web_app import ProbeTargetServer

from watchkeeper.model import Phases, Result
from watchkeeper.state.maintenance import Mutes


def config(web: ProbeTargetServer) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 300ms, timeout: 200ms, confirm: 1, recover: 1, retry_interval: 100ms}}
notify:
  - {{name: ops, webhook: "{web.url("/hook")}", group_wait: 0s}}
maintenance:
  - {{name: nightly, cron: "0 3 * * *", duration: 30m, monitors: [api]}}
monitors:
  - {{name: api, http: "{web.url("/health")}", tags: [core], notify: [ops]}}
  - {{name: broken, http: "{web.url("/nowhere")}", tags: [core]}}
"""


@pytest.fixture
async def site(tmp_path: Path, web: ProbeTargetServer) -> AsyncIterator[Site]:
    async with Site(config(web), tmp_path) as running:
        yield running


@pytest.fixture
async def api(site: Site) -> AsyncIterator[aiohttp.ClientSession]:
    async with site.client(site.token("write")) as session:
        yield session


async def call(
    session: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    async with session.request(method, path, **kwargs) as answer:
        if answer.status == 204:
            return 204, None
        return answer.status, await answer.json()


async def until(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"still not true: {value!r}"
        await asyncio.sleep(0.1)


async def test_monitors_list_filters_and_pages(api: aiohttp.ClientSession, site: Site) -> None:
    async def both_judged() -> bool:
        _, body = await call(api, "GET", "/api/v1/monitors")
        return {m["name"]: m["state"] for m in body["items"]} == {"api": "up", "broken": "down"}

    await until(both_judged)
    status, body = await call(api, "GET", "/api/v1/monitors?state=down")
    assert status == 200 and [m["name"] for m in body["items"]] == ["broken"]
    assert body["items"][0]["reason"] == "status 404, expected < 400"
    _, body = await call(api, "GET", "/api/v1/monitors?limit=1&offset=1")
    assert body["total"] == 2 and [m["name"] for m in body["items"]] == ["broken"]
    _, body = await call(api, "GET", "/api/v1/monitors?q=HEALTH")
    assert [m["name"] for m in body["items"]] == ["api"]
    _, body = await call(api, "GET", "/api/v1/monitors/api")
    assert body["source"] == "config" and body["uptime"]["24h"] == 1.0
    status, body = await call(api, "GET", "/api/v1/monitors/nope")
    assert status == 404 and body["detail"] == "no monitor named 'nope'"
    _, states = await call(api, "GET", "/api/v1/states")
    assert states["counts"] == {"up": 1, "down": 1}
    assert states["monitors"]["api"]["latency_ms"] > 0


async def test_a_monitor_defined_through_the_api_is_watched_and_survives_a_restart(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    spec = {
        "name": "orders",
        "http": {
            "url": web.url("/orders"),
            "method": "POST",
            "json": {"item": "probe", "count": 2},
        },
        "expect": ["status == 201"],
        "depends_on": ["api"],
        "tags": ["shop"],
    }
    async with Site(config(web), tmp_path) as site, site.client(site.token("write")) as api:
        status, body = await call(api, "POST", "/api/v1/monitors", json=spec)
        assert status == 201, body
        assert body["source"] == "api" and body["expect"] == ["status == 201"]

        async def orders_up() -> bool:
            _, found = await call(api, "GET", "/api/v1/monitors/orders")
            return bool(found["state"] == "up")

        await until(orders_up)
        status, body = await call(api, "POST", "/api/v1/monitors", json=spec)
        assert status == 409
        status, body = await call(
            api, "PUT", "/api/v1/monitors/orders", json={**spec, "expect": ["status == 200"]}
        )
        assert status == 200 and body["expect"] == ["status == 200"]

        async def orders_down() -> bool:
            _, found = await call(api, "GET", "/api/v1/monitors/orders")
            return bool(found["state"] == "down")

        await until(orders_down)
    async with Site(config(web), tmp_path) as site, site.client(site.token("read")) as api:
        status, body = await call(api, "GET", "/api/v1/monitors/orders")
        assert status == 200, "kept in the store"
        assert body["expect"] == ["status == 200"] and body["state"] == "down"
        assert body["source"] == "api"


async def test_a_monitor_defined_with_anomaly_on_starts_from_the_stored_latency(
    api: aiohttp.ClientSession, site: Site, web: ProbeTargetServer
) -> None:
    now = time.time()
    site.store.write(
        [
            Result("checkout", "http", now - 600 * 30 + i * 30, True, Phases(total=0.02))
            for i in range(600)
        ]
    )
    spec = {"name": "checkout", "http": web.url("/health"), "anomaly": True}
    status, body = await call(api, "POST", "/api/v1/monitors", json=spec)
    assert status == 201, body
    assert body["anomaly"] == ["latency"]
    assert site.engine.anomalies.learnt("checkout", "latency") >= 600
    status, body = await call(
        api, "POST", "/api/v1/monitors", json={**spec, "name": "bad", "anomaly": "a, b"}
    )
    assert status == 422 and "write a list" in body["detail"][0], body


async def test_bad_monitors_are_refused_with_located_reasons(api: aiohttp.ClientSession) -> None:
    cases = [
        (
            {"name": "x", "http": "http://127.0.0.1:9/", "expect": ["statos == 200"]},
            "monitor 'x': expect[0] 'statos == 200': unknown subject 'statos' (did you mean "
            "'status'?) (column 1)",
        ),
        ({"name": "x", "htp": "http://a"}, "monitor 'x': unknown key 'htp' (did you mean 'http'?)"),
        (
            {"name": "x", "tcp": "${HOME}:22"},
            "monitor 'x': ${...} substitution is only for the config file: put secrets there",
        ),
        (
            {"name": "x", "tcp": "127.0.0.1:9", "depends_on": ["nope"]},
            "monitor 'x': depends_on 'nope' is not defined",
        ),
        (
            {"name": "x", "tcp": "127.0.0.1:9", "notify": ["pager"]},
            "monitor 'x': notify route 'pager' is not defined",
        ),
    ]
    for spec, reason in cases:
        status, body = await call(api, "POST", "/api/v1/monitors", json=spec)
        assert status == 422, (spec, body)
        assert any(reason in line for line in body["detail"]), (reason, body)
    status, body = await call(api, "GET", "/api/v1/monitors?source=api")
    assert body["total"] == 0, "nothing half-made was kept"


async def test_a_monitor_name_outside_the_documented_characters_is_refused(
    api: aiohttp.ClientSession,
) -> None:
    for name in ("café☃", "deploy 🚀"):
        status, body = await call(
            api, "POST", "/api/v1/monitors", json={"name": name, "tcp": "127.0.0.1:9"}
        )
        assert status == 422, body
        assert "cannot be in a name: use letters and digits" in body["detail"][0], body
    _, body = await call(api, "GET", "/api/v1/monitors?source=api")
    assert body["total"] == 0, "nothing was kept"


async def test_a_new_monitors_location_is_percent_encoded(api: aiohttp.ClientSession) -> None:
    spec = {"name": "監視 web", "tcp": "127.0.0.1:9"}
    async with api.post("/api/v1/monitors", json=spec) as answer:
        assert answer.status == 201, await answer.text()
        location = answer.headers["Location"]
    assert location == "/api/v1/monitors/%E7%9B%A3%E8%A6%96%20web"
    status, body = await call(api, "GET", location)
    assert status == 200 and body["name"] == "監視 web"


async def test_config_monitors_are_read_only_through_the_api(
    api: aiohttp.ClientSession, site: Site
) -> None:
    for method, kwargs in (("PUT", {"json": {"tcp": "127.0.0.1:9"}}), ("DELETE", {})):
        status, body = await call(api, method, "/api/v1/monitors/api", **kwargs)
        assert status == 409, body
        assert body["detail"] == (
            f"monitor 'api' is defined in {site.config.path}:9 and is read-only here: edit the file"
        )
    status, _ = await call(
        api,
        "POST",
        "/api/v1/monitors",
        json={"name": "dep", "tcp": "127.0.0.1:9", "depends_on": ["api"]},
    )
    assert status == 201
    status, _ = await call(api, "DELETE", "/api/v1/monitors/dep")
    assert status == 204
    status, _ = await call(api, "GET", "/api/v1/monitors/dep")
    assert status == 404


async def test_run_now_returns_the_result_and_the_state_follows(
    api: aiohttp.ClientSession, site: Site
) -> None:
    status, body = await call(api, "POST", "/api/v1/monitors/broken/check")
    assert status == 200
    assert body["monitor"] == "broken" and body["ok"] is False and body["status"] == 404
    assert body["failures"] == ["status 404, expected < 400"]
    assert site.engine.status["broken"].last_result is not None
    assert site.engine.status["broken"].last_result.started_at == body["at"]


async def test_series_picks_raw_minute_or_hour_points_by_range(
    api: aiohttp.ClientSession, site: Site
) -> None:
    now = time.time()
    old = [
        Result("api", "http", now - 3 * 86400 + i * 60, i % 10 != 0, Phases(total=0.05, ttfb=0.04))
        for i in range(120)
    ]
    # and one from nearly two hours ago: "auto" charts the span there is data for, which without
    # it is the few seconds the live engine has written (raw once its first batch commits)
    early = Result("api", "http", now - 7000, True, Phases(total=0.05, ttfb=0.04))
    site.store.write([*old, early])
    site.store.rollup(now, grace=0)
    _, recent = await call(api, "GET", "/api/v1/monitors/api/series?since=10m")
    assert recent["resolution"] == "raw", "every check while that is ~3000 points or fewer"
    _, hours = await call(api, "GET", "/api/v1/monitors/api/series?since=2h")
    # (since=1h is 12,000 checks of a 300 ms monitor: exactly the most drawn raw)
    assert hours["resolution"] == "1m", "23,000 checks of a 300 ms monitor: minutes instead"
    _, week = await call(api, "GET", "/api/v1/monitors/api/series?since=7d")
    assert week["resolution"] == "1h"
    seeded = [p for p in week["points"] if p["at"] < now - 86400]
    assert sum(p["checks"] for p in seeded) == 120 and sum(p["failures"] for p in seeded) == 12
    assert seeded[0]["p50_ms"] == pytest.approx(50.0)
    assert seeded[0]["phases"]["ttfb"] == pytest.approx(40.0)
    _, days = await call(api, "GET", "/api/v1/monitors/api/series?since=3d&resolution=1m")
    assert days["resolution"] == "1m"
    assert len([p for p in days["points"] if p["at"] < now - 86400]) == 120
    status, body = await call(api, "GET", "/api/v1/monitors/api/series?since=soon")
    assert status == 422 and "bad time 'soon'" in body["detail"]


async def test_a_monitors_diagnosis_tells_what_changed_and_which_phase(
    api: aiohttp.ClientSession, site: Site
) -> None:
    now = time.time()
    history = [
        Result(
            "api",
            "http",
            now - 6 * 3600 + i * 20,
            True,
            Phases(
                connect=0.001,
                ttfb=(0.30 if i >= 720 else 0.10) + (i % 7) / 1000,
                total=(0.30 if i >= 720 else 0.10) + (i % 7) / 1000 + 0.001,
            ),
        )
        for i in range(1000)  # from 2 h ago, three times slower to answer
    ]
    site.store.write(history)
    status, body = await call(api, "GET", "/api/v1/monitors/api/diagnosis?since=6h")
    assert status == 200, body
    sources = {f["source"]: f for f in body["findings"]}
    assert "rose from" in sources["drift"]["title"]
    assert sources["phase"]["evidence"]["moved"] == "ttfb"
    status, body = await call(api, "GET", "/api/v1/monitors/api/diagnosis?since=later")
    assert status == 422
    huge = "9" * 400 + "d"
    status, body = await call(api, "GET", f"/api/v1/monitors/api/diagnosis?since={huge}")
    assert status == 422 and "at most 30d" in body["detail"]
    status, _ = await call(api, "GET", "/api/v1/monitors/nope/diagnosis")
    assert status == 404


async def test_incidents_are_listed_shown_and_acknowledged(
    api: aiohttp.ClientSession, site: Site
) -> None:
    async def opened() -> Any:
        _, body = await call(api, "GET", "/api/v1/incidents?open=true")
        return body["items"]

    [incident] = await until(opened)
    assert incident["monitor"] == "broken" and incident["open"] is True
    status, shown = await call(api, "GET", f"/api/v1/incidents/{incident['id']}")
    assert status == 200 and shown["timeline"][0]["kind"] == "detected"
    status, acked = await call(
        api, "POST", f"/api/v1/incidents/{incident['id']}/ack", json={"by": "bob"}
    )
    assert status == 200 and acked["acked_by"] == "bob" and not acked["already_acknowledged"]
    _, again = await call(api, "POST", f"/api/v1/incidents/{incident['id']}/ack")
    assert again["already_acknowledged"] is True and again["acked_by"] == "bob"
    status, _ = await call(api, "GET", "/api/v1/incidents/999")
    assert status == 404


async def test_silences_hold_notifications_and_can_be_expired(
    api: aiohttp.ClientSession, site: Site
) -> None:
    status, silence = await call(
        api, "POST", "/api/v1/silences", json={"tag": "core", "duration": "2h", "reason": "deploy"}
    )
    assert (
        status == 201 and silence["active"] is True and silence["created_by"] == "token:test-write"
    )
    mutes = Mutes([], site.engine.alerting._silences, time.time())
    assert mutes.reason("api", ("core",)) == f"silence #{silence['id']} (deploy)"
    status, body = await call(api, "POST", "/api/v1/silences", json={"tag": "cor"})
    assert status == 422 and body["detail"] == "no monitor has the tag 'cor' (did you mean 'core'?)"
    status, body = await call(
        api, "POST", "/api/v1/silences", json={"monitor": "api", "duration": "2"}
    )
    assert status == 422 and "add a unit" in body["detail"]
    status, _ = await call(api, "DELETE", f"/api/v1/silences/{silence['id']}")
    assert status == 204
    _, listed = await call(api, "GET", "/api/v1/silences")
    assert listed["items"] == []
    _, everything = await call(api, "GET", "/api/v1/silences?all=true")
    assert [s["id"] for s in everything["items"]] == [silence["id"]]
    status, _ = await call(api, "DELETE", f"/api/v1/silences/{silence['id']}")
    assert status == 404


async def test_maintenance_windows_from_the_api_mute_like_the_configs(
    api: aiohttp.ClientSession, site: Site
) -> None:
    window = {
        "name": "upgrade",
        "start": "2020-01-01T00:00:00Z",
        "duration": "1000d",
        "tags": ["core"],
    }
    window["duration"] = "100000d"
    status, made = await call(api, "POST", "/api/v1/maintenance", json=window)
    assert status == 201, made
    assert made["active"] is True and made["source"] == "api"
    assert [w.name for w in site.engine.alerting.api_maintenance] == ["upgrade"]
    _, listed = await call(api, "GET", "/api/v1/maintenance")
    assert [(w["name"], w["source"]) for w in listed["items"]] == [
        ("nightly", "config"),
        ("upgrade", "api"),
    ]
    status, body = await call(api, "POST", "/api/v1/maintenance", json=window)
    assert status == 409
    status, body = await call(
        api, "POST", "/api/v1/maintenance", json={"name": "bad", "cron": "every night"}
    )
    assert status == 422
    assert any("bad cron expression 'every night'" in line for line in body["detail"])
    status, _ = await call(api, "DELETE", f"/api/v1/maintenance/{made['id']}")
    assert status == 204 and site.engine.alerting.api_maintenance == []


async def test_routes_show_their_delivery_health(api: aiohttp.ClientSession, site: Site) -> None:
    _, body = await call(api, "GET", "/api/v1/routes")
    [route] = body["items"]
    assert route["name"] == "ops" and route["kind"] == "webhook" and route["group_wait_s"] == 0
    assert route["broken"] is False and route["last_error"] is None


async def test_the_openapi_document_describes_every_api_route(api: aiohttp.ClientSession) -> None:
    status, document = await call(api, "GET", "/api/openapi.json")
    assert status == 200
    paths = set(document["paths"])
    for expected in (
        "/api/v1/monitors",
        "/api/v1/monitors/{name}",
        "/api/v1/monitors/{name}/check",
        "/api/v1/monitors/{name}/series",
        "/api/v1/monitors/{name}/uptime",
        "/api/v1/monitors/{name}/diagnosis",
        "/api/v1/incidents/{incident_id}/ack",
        "/api/v1/silences",
        "/api/v1/maintenance",
        "/api/v1/routes",
        "/metrics",
    ):
        assert expected in paths, expected
