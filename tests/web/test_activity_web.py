"""The activity log in the real app: every write route names its verb, refused writes are
recorded as denied, and only admins and tokens may read the log (the page and the API)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from playwright.async_api import Browser, expect
from tests.helpers.site import ADMIN, VIEWER, VIEWER_PASSWORD, Site
from tests.helpers.web_app import ProbeTargetServer

from watchkeeper import activity
from watchkeeper.web.activity import ACTION_ATTRIBUTE

UNRECORDED = {
    "/login",  # public: logins are recorded by the route itself (success and failure)
    "/setup",  # public: the first admin is recorded by the route itself
    "/ping/{uuid}",  # public, no principal: heartbeats are not changes
    "/ping/{uuid}/{action}",
    "/api/v1/agent/results",  # an agent's pushes: machine traffic (its token's use is kept)
}


def config(web: ProbeTargetServer) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 1s, timeout: 500ms}}
monitors:
  - {{name: api, http: "{web.url("/health")}"}}
"""


@pytest.fixture
async def site(tmp_path: Path, web: ProbeTargetServer) -> AsyncIterator[Site]:
    async with Site(config(web), tmp_path) as running:
        yield running


def _write_routes(site: Site) -> list[APIRoute]:
    found: list[APIRoute] = []

    def walk(table: list[object]) -> None:
        for route in table:
            included = getattr(route, "original_router", None)
            if included is not None:
                walk(included.routes)
            elif isinstance(route, APIRoute) and route.methods - {"GET", "HEAD"}:
                found.append(route)

    walk(list(site.app.routes))
    return found


async def test_every_write_route_names_its_verb(site: Site) -> None:
    writes = _write_routes(site)
    assert len(writes) >= 25, [r.path for r in writes]
    unnamed = [
        (sorted(r.methods), r.path)
        for r in writes
        if r.path not in UNRECORDED and not hasattr(r.endpoint, ACTION_ATTRIBUTE)
    ]
    assert unnamed == []
    verbs = {getattr(r.endpoint, ACTION_ATTRIBUTE, "") for r in writes} - {""}
    assert all(v.replace("_", "").replace(".", "").isalpha() for v in verbs), verbs


async def test_a_refused_write_is_recorded_as_denied(site: Site) -> None:
    viewer, csrf = await site.login(VIEWER, VIEWER_PASSWORD)
    async with viewer:
        form = {"monitor": "api", "duration": "1h", "csrf": csrf}
        async with viewer.post("/silences", data=form, allow_redirects=False) as answer:
            assert answer.status == 403

    found = activity.read(site.store, action="silence")
    assert [(e.actor, e.action, e.outcome) for e in found] == [(VIEWER, "silence.create", "denied")]
    # refused before the form was read: what was asked is the path, not the body
    assert found[0].detail == {"method": "POST", "path": "/silences", "status": 403}
    assert found[0].address == "127.0.0.1"


async def test_only_admins_and_tokens_read_the_log(site: Site) -> None:
    viewer, _ = await site.login(VIEWER, VIEWER_PASSWORD)
    admin, _ = await site.login()
    async with viewer, admin, site.client(site.token("read")) as reader:
        async with viewer.get("/api/v1/activity") as answer:
            assert answer.status == 403
        async with viewer.get("/activity") as answer:
            assert answer.status == 403
        async with viewer.get("/") as answer:
            assert 'href="/activity"' not in await answer.text()
        async with reader.get("/api/v1/activity?action=login") as answer:
            assert answer.status == 200
            logins = (await answer.json())["items"]
        async with admin.get("/activity?action=login") as answer:
            assert answer.status == 200
            page = await answer.text()
    assert {(e["actor"], e["action"]) for e in logins} == {(VIEWER, "login"), (ADMIN, "login")}
    assert 'href="/activity"' in page and f"<td>{VIEWER}</td>" in page


async def test_the_activity_page_in_chromium_lists_the_login_and_filters(
    browser: Browser, site: Site
) -> None:
    from tests.helpers.browser import logged_in, shot
    from tests.web.test_phone import PHONE, fits

    page = await logged_in(browser, site)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    await page.click('nav.nav a[href="/activity"]')
    await expect(page.locator("h1")).to_have_text("Activity")
    rows = page.locator("#activity-table tbody tr")
    await expect(rows.filter(has_text="login")).to_have_count(1)  # the login just made
    await page.fill('input[name="action"]', "monitor")
    await page.click('#activity-filters button[type="submit"]')
    await expect(page).to_have_url(re.compile(r"action=monitor"))
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Nothing recorded")
    await shot(page, "activity")
    assert not page.errors, page.errors  # type: ignore[attr-defined]
    assert violations == []
    phone = await logged_in(browser, site, **PHONE)
    await phone.goto(site.url + "/activity")
    await fits(phone, "activity")


async def test_a_logout_is_recorded_with_its_session_user(site: Site) -> None:
    admin, csrf = await site.login()
    async with admin:
        async with admin.post("/logout", data={"csrf": csrf}, allow_redirects=False) as answer:
            assert answer.status == 303
        async with admin.get("/api/v1/activity") as answer:
            assert answer.status == 401  # the session is over

    found = activity.read(site.store, action="logout")
    assert [(e.actor, e.outcome, e.detail.get("request")) for e in found] == [(ADMIN, "ok", None)]
