"""Secrets written straight into URLs (a monitor's target, a webhook's path and query, an
Apprise URL, an Alertmanager's userinfo) reach no viewer, no read token, no API answer, no
page, no notification body and no table of the store; the real URLs are still the ones used."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from tests.helpers.alerting import eventually, has
from tests.helpers.receivers import HookReceiver
from tests.helpers.site import VIEWER, VIEWER_PASSWORD, Site
from tests.helpers.web_app import ProbeTargetServer

SECRETS = (
    "ProbePassw0rd",
    "ApiKeyValue1",
    "PromPassw0rd",
    "PromT0kenValue",
    "HookPassw0rd",
    "HookPathT0ken",
    "HookSigValue",
    "T0SlackA",
    "B0SlackB",
    "XSlackTokenC",
    "AmPassw0rd",
)


def config(web: ProbeTargetServer, hook: HookReceiver) -> str:
    probe = f"127.0.0.1:{web.port}"
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 300ms, timeout: 250ms, confirm: 1, recover: 1, retry_interval: 100ms}}
notify:
  - name: hook
    webhook: "http://hooker:HookPassw0rd@127.0.0.1:{hook.port}/hook/HookPathT0ken?sig=HookSigValue"
    group_wait: 0s
  - {{name: chat, apprise: "slack://T0SlackA/B0SlackB/XSlackTokenC/#ops"}}
  - {{name: am, alertmanager: "http://amuser:AmPassw0rd@127.0.0.1:1"}}
monitors:
  - name: api
    http: "http://probe:ProbePassw0rd@{probe}/health?api_key=ApiKeyValue1&v=1"
  - name: gone
    prometheus: "http://prom:PromPassw0rd@{probe}/nowhere?access_token=PromT0kenValue"
    notify: [hook]
"""


def store_bytes(folder: Path) -> bytes:
    """Every byte of the SQLite store (its tables, indexes and any journal left)."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob("wk.db*")))


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def read_all(session: aiohttp.ClientSession, paths: list[str]) -> dict[str, str]:
    bodies = {}
    for path in paths:
        async with session.get(path) as answer:
            assert answer.status == 200, (path, answer.status, await answer.text())
            bodies[path] = await answer.text()
    return bodies


async def test_no_secret_in_a_url_reaches_the_api_the_pages_a_notification_or_the_store(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    async with HookReceiver() as hook, Site(config(web, hook), tmp_path) as site:
        await eventually(lambda: site.engine.status["api"].state.value == "up")
        await eventually(lambda: site.engine.status["gone"].state.value == "down")
        await hook.wait(has(hook, "gone", "firing"))
        paths = [
            "/api/v1/monitors",
            "/api/v1/monitors/api",
            "/api/v1/monitors/gone",
            "/api/v1/monitors/gone/results",
            "/api/v1/monitors/api/results",
            "/api/v1/routes",
            "/api/v1/states",
            "/api/v1/incidents",
        ]
        async with site.client(site.token("read")) as api:
            answers = await read_all(api, paths)
        viewer, _ = await site.login(VIEWER, VIEWER_PASSWORD)
        async with viewer:
            pages = await read_all(viewer, ["/", "/monitors/api", "/monitors/gone", *paths])
        answers |= {f"viewer {path}": body for path, body in pages.items()}

    for path, body in answers.items():
        assert not leaked(body), (path, leaked(body))
    gone = site.config.monitor("gone")
    assert gone is not None
    assert gone.target == "http://prom:***@" + f"127.0.0.1:{web.port}/nowhere?access_token=***"
    assert '"target":"http://127.0.0.1:' in answers["/api/v1/routes"].replace(" ", "")
    assert "slack://…" in answers["/api/v1/routes"]
    assert "api_key=***" in answers["/api/v1/monitors/api"]
    assert "access_token=***" in answers["/api/v1/monitors/gone/results"]  # the error text

    # the real URLs were used: the probe got its query, the webhook its path, query and login
    assert any(r.path == "/health?api_key=ApiKeyValue1&v=1" for r in web.requests)
    delivered = hook.requests[0]
    assert delivered.path == "/hook/HookPathT0ken?sig=HookSigValue"
    assert delivered.headers["authorization"].startswith("Basic ")
    for request in hook.requests:
        assert not leaked(request.body.decode()), leaked(request.body.decode())

    stored = store_bytes(tmp_path)
    assert b"gone" in stored and b"/nowhere" in stored  # the tables hold the masked rows
    assert not leaked(stored.decode("latin-1"))
