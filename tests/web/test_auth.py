"""Authentication against the real app on a real port: every route is enumerated, so a route
added later cannot slip through unprotected."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route
from tests.helpers.site import ADMIN, ADMIN_PASSWORD, VIEWER, VIEWER_PASSWORD, Site, _hidden
from tests.helpers.web_app import ProbeTargetServer

SECRET = "hunter2-secret"

# What anyone may reach. Changing this list is a decision: the test makes it a visible one.
PUBLIC = {
    "/healthz",
    "/status",
    "/status/{slug}",
    "/badge/{name}/{kind}.svg",
    "/login",
    "/setup",
    "/logout",
    "/favicon.ico",
    "/static",
    "/ping/{uuid}",
    "/ping/{uuid}/{action}",
}
SAMPLE = {
    "name": "api",
    "incident_id": "1",
    "issue_id": "1",
    "silence_id": "1",
    "window_id": "1",
    "kind": "status",
    "slug": "main",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "action": "start",
}


def config(web: ProbeTargetServer) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 1s, timeout: 500ms}}
notify:
  - {{name: hook, webhook: "{web.url("/hook")}?key=${{HOOK_SECRET}}", secret: "${{HOOK_SECRET}}"}}
monitors:
  - name: api
    http:
      url: "{web.url("/health")}"
      headers: {{X-Key: "${{HOOK_SECRET}}"}}
    public: true
    notify: [hook]
  - {{name: private, http: "{web.url("/health")}?token=${{HOOK_SECRET}}"}}
"""


@pytest.fixture
async def site(tmp_path: Path, web: ProbeTargetServer) -> AsyncIterator[Site]:
    async with Site(config(web), tmp_path) as running:
        yield running


def routes(site: Site) -> list[tuple[str, str]]:
    """(method, path template) of every route the app has, included routers and all."""

    def walk(table: list[Any]) -> list[tuple[str, str]]:
        found = []
        for route in table:
            included = getattr(route, "original_router", None)  # FastAPI's included routers
            if included is not None:
                found += walk(included.routes)
            elif isinstance(route, Mount):
                found.append(("GET", route.path))
            elif isinstance(route, APIRoute | Route) and route.methods:
                found += [(method, route.path) for method in sorted(route.methods)]
        return found

    return walk(site.app.routes)


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path).replace(
        "/static", "/static/app.css"
    )


async def test_every_route_but_the_public_ones_refuses_anonymous_callers(site: Site) -> None:
    seen = routes(site)
    assert len(seen) > 30, seen  # the enumeration found the app's routes
    public_seen = {path for _, path in seen if path in PUBLIC}
    assert public_seen == PUBLIC, "each public route exists (the list is not stale)"
    async with site.client() as anonymous:
        for method, path in seen:
            if path in PUBLIC or method == "HEAD":
                continue
            async with anonymous.request(method, concrete(path), allow_redirects=False) as answer:
                body = await answer.text()
                # the API answers 401; a page (the API's reference among them) sends to the login
                if (path.startswith("/api/") and path != "/api/docs") or path == "/metrics":
                    assert answer.status == 401, (method, path, answer.status, body)
                    assert answer.headers.get("WWW-Authenticate") == "Bearer"
                else:
                    assert answer.status == 303, (method, path, answer.status)
                    assert answer.headers["Location"].startswith("/login?next="), path
                assert "api" not in body or path.startswith("/api/"), "nothing leaks"


async def test_a_read_token_and_a_viewer_cannot_change_anything(site: Site) -> None:
    writes = [(m, p) for m, p in routes(site) if m in ("POST", "PUT", "DELETE", "PATCH")]
    writes = [(m, p) for m, p in writes if p not in PUBLIC]
    assert len(writes) >= 12, writes
    viewer, csrf = await site.login(VIEWER, VIEWER_PASSWORD)
    async with site.client(site.token("read")) as reader, viewer:
        for method, path in writes:
            async with reader.request(method, concrete(path), json={}) as answer:
                assert answer.status == 403, (method, path, answer.status, await answer.text())
            async with viewer.request(
                method, concrete(path), data={"csrf": csrf}, allow_redirects=False
            ) as answer:
                assert answer.status == 403, ("viewer", method, path, answer.status)
    async with (
        site.client(site.token("read")) as reader,  # but reading works
        reader.get("/api/v1/monitors") as answer,
    ):
        assert answer.status == 200
        assert {m["name"] for m in (await answer.json())["items"]} == {"api", "private"}


async def test_a_session_write_needs_its_csrf_token(site: Site) -> None:
    admin, csrf = await site.login()
    async with admin:
        form = {"monitor": "api", "duration": "1h", "reason": "deploy"}
        async with admin.post("/silences", data=form, allow_redirects=False) as answer:
            assert answer.status == 403
        async with admin.post(
            "/silences", data={**form, "csrf": "0" * 40}, allow_redirects=False
        ) as answer:
            assert answer.status == 403
        async with admin.post(
            "/silences", data={**form, "csrf": csrf}, allow_redirects=False
        ) as answer:
            assert answer.status == 303
            assert "kind=ok" in answer.headers["Location"]
        async with admin.post("/api/v1/monitors/api/check") as answer:
            assert answer.status == 403, "the API through a cookie needs X-CSRF-Token too"
        async with admin.post(
            "/api/v1/monitors/api/check", headers={"X-CSRF-Token": csrf}
        ) as answer:
            assert answer.status == 200
            assert (await answer.json())["monitor"] == "api"
    async with (
        site.client(site.token("write")) as writer,
        writer.get("/api/v1/silences") as answer,
    ):
        silences = (await answer.json())["items"]
    assert [(s["monitor"], s["created_by"], s["reason"]) for s in silences] == [
        ("api", ADMIN, "deploy")
    ]


async def test_session_cookies_are_httponly_samesite_and_logout_ends_them(site: Site) -> None:
    session = site.client()
    async with session:
        async with session.get("/login") as page:
            token = _hidden(await page.text(), "csrf")
        async with session.post(
            "/login",
            data={"name": ADMIN, "password": ADMIN_PASSWORD, "csrf": token, "next": "/incidents"},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303 and answer.headers["Location"] == "/incidents"
            cookie = next(
                v
                for k, v in answer.headers.items()
                if k.lower() == "set-cookie" and "wk_session" in v
            )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie, "plain http on loopback: a Secure cookie would be lost"
        async with session.get("/", allow_redirects=False) as page:
            assert page.status == 200
            csrf = re.search(r'data-csrf="([^"]+)"', await page.text())
        assert csrf is not None
        async with session.post(
            "/logout", data={"csrf": csrf.group(1)}, allow_redirects=False
        ) as answer:
            assert answer.status == 303
    stolen = cookie.split(";")[0].split("=", 1)[1]
    async with site.client() as other:
        other.cookie_jar.update_cookies({"wk_session": stolen})
        async with other.get("/api/v1/monitors") as answer:
            assert answer.status == 401, "a logged-out session is dead, even if copied"


async def test_the_login_form_needs_its_own_csrf_cookie(site: Site) -> None:
    async with (
        site.client() as session,
        session.post(
            "/login",
            data={"name": ADMIN, "password": ADMIN_PASSWORD, "csrf": "forged", "next": "/"},
            allow_redirects=False,
        ) as answer,
    ):
        assert answer.status == 403
        assert "wk_session" not in answer.cookies


async def test_repeated_wrong_passwords_are_rate_limited(site: Site) -> None:
    async with site.client() as session:
        async with session.get("/login") as page:
            token = _hidden(await page.text(), "csrf")
        statuses = []
        for _ in range(6):
            async with session.post(
                "/login",
                data={"name": ADMIN, "password": "wrong password", "csrf": token},
                allow_redirects=False,
            ) as answer:
                statuses.append(answer.status)
        assert statuses == [401] * 5 + [429]
        async with session.post(
            "/login",
            data={"name": ADMIN, "password": ADMIN_PASSWORD, "csrf": token},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 429, "even the right password waits out the block"
            assert int(answer.headers["Retry-After"]) > 0
            assert "Too many failed logins" in await answer.text()
        async with session.post(  # another user is not locked out by alice's attacker
            "/login",
            data={"name": VIEWER, "password": VIEWER_PASSWORD, "csrf": token},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303


async def test_no_secret_from_the_config_reaches_any_response(site: Site) -> None:
    admin, _ = await site.login()
    async with site.client(site.token("write")) as api:
        async with api.post("/api/v1/monitors/api/check") as answer:
            assert answer.status == 200
        async with api.post("/api/v1/monitors/private/check") as answer:
            assert answer.status == 200
        pages = [p for m, p in routes(site) if m == "GET" and p not in ("/static",)]
        assert "/api/v1/routes" in pages and "/metrics" in pages
        bodies = []
        for path in pages:
            for client in (api, admin):
                async with client.get(concrete(path)) as answer:
                    assert answer.status < 500, path
                    bodies.append((path, await answer.text()))
    await admin.close()
    assert any("***" in body for _, body in bodies), "the secrets were there, masked"
    leaked = [path for path, body in bodies if SECRET in body]
    assert not leaked, leaked


async def test_first_run_offers_setup_on_loopback_only_until_an_admin_exists(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    async with Site(config(web), tmp_path, users=False) as site, site.client() as visitor:
        async with visitor.get("/", allow_redirects=False) as answer:
            assert answer.status == 303 and answer.headers["Location"] == "/setup"
        async with visitor.get("/setup") as page:
            html = await page.text()
            assert "Create the admin" in html
            token = _hidden(html, "csrf")
        async with visitor.post(
            "/setup",
            data={"name": "root", "password": "short", "again": "short", "csrf": token},
        ) as answer:
            assert answer.status == 422
            assert "at least 10 characters" in await answer.text()
        async with visitor.post(
            "/setup",
            data={
                "name": "root",
                "password": "a long passphrase",
                "again": "a long passphrase",
                "csrf": token,
            },
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303 and answer.headers["Location"] == "/"
        async with visitor.get("/", allow_redirects=False) as answer:
            assert answer.status == 200, "logged in as the new admin"
        async with site.client() as stranger:
            async with stranger.get("/setup", allow_redirects=False) as answer:
                assert answer.headers["Location"] == "/login", "setup is gone for good"
            async with stranger.post(
                "/setup",
                data={"name": "mallory", "password": "x" * 12, "again": "x" * 12},
                allow_redirects=False,
            ) as answer:
                assert answer.status == 303
        assert [u.name for u in site.auth.users()] == ["root"]


async def test_off_loopback_there_is_no_setup_page_even_without_users(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    async with (
        Site(config(web), tmp_path, users=False, loopback=False) as site,
        site.client() as visitor,
    ):
        async with visitor.get("/", allow_redirects=False) as answer:
            assert answer.headers["Location"].startswith("/login")
        async with visitor.get("/setup", allow_redirects=False) as answer:
            assert answer.status == 303 and answer.headers["Location"] == "/login"
