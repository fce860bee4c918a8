"""``/api/docs``: Swagger UI, shipped in the package, on the server's own OpenAPI document, for
a logged-in person only; "Try it out" calls the API with that person's session."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, expect
from tests.helpers.browser import logged_in, shot
from tests.helpers.site import Site
from tests.helpers.web_app import ProbeTargetServer

from watchkeeper.web import app as web_app

VENDOR = Path(web_app.STATIC) / "vendor" / "swagger-ui"


def config(web: ProbeTargetServer) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 1s, timeout: 1s}}
monitors:
  - {{name: api, http: "{web.url("/health")}"}}
"""


@pytest.fixture
async def site(tmp_path: Path, web: ProbeTargetServer) -> AsyncIterator[Site]:
    async with Site(config(web), tmp_path) as running:
        yield running


async def test_the_reference_lists_every_operation_and_tries_them_as_the_person(
    browser: Browser, site: Site
) -> None:
    page = await logged_in(browser, site, viewport={"width": 1360, "height": 900})
    refused: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or message.type == "error":
            refused.append(message.text)

    page.on("console", console)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await page.click('nav a[href="/api/docs"]')  # linked from every page's top bar
    await expect(page).to_have_url(site.url + "/api/docs")
    await expect(page.locator("nav a.active")).to_have_text("API")
    operations = page.locator(".swagger-ui .opblock")
    await expect(operations.first).to_be_visible(timeout=15_000)
    paths = await page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/states" in paths and "/api/v1/monitors/{name}/check" in paths, paths
    assert len(paths) > 20, paths

    states = page.locator("#operations-monitors-states_api_v1_states_get")
    await states.locator(".opblock-summary").click()
    await states.locator("button.try-out__btn").click()
    await states.locator("button.execute").click()
    answer = states.locator(".live-responses-table tbody .response-col_status").first
    await expect(answer).to_have_text("200", timeout=10_000)
    await expect(states.locator(".live-responses-table .microlight").first).to_contain_text('"api"')

    check = page.locator("#operations-monitors-check_now_api_v1_monitors__name__check_post")
    await check.locator(".opblock-summary").click()
    await check.locator("button.try-out__btn").click()
    await check.locator('input[placeholder="name"]').fill("api")
    await check.locator("button.execute").click()  # a write: the session's CSRF token goes
    answer = check.locator(".live-responses-table tbody .response-col_status").first
    await expect(answer).to_have_text("200", timeout=15_000)
    await shot(page, "api-docs")

    assert not refused, refused
    assert not page.errors, page.errors  # type: ignore[attr-defined]
    assert all(url.startswith(site.url) for url in asked), "nothing from elsewhere"


async def test_anonymous_visitors_are_sent_to_the_login(browser: Browser, site: Site) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(site.url + "/api/docs")
    await expect(page).to_have_url(site.url + "/login?next=%2Fapi%2Fdocs")
    async with site.client() as anonymous:
        async with anonymous.get("/api/docs", allow_redirects=False) as answer:
            assert answer.status == 303
        async with anonymous.get("/api/openapi.json") as answer:
            assert answer.status == 401


async def test_the_shipped_assets_are_served_as_published_with_their_types(site: Site) -> None:
    sums = dict(
        reversed(line.split("  ", 1)) for line in (VENDOR / "SHA256SUMS").read_text().splitlines()
    )
    async with site.client() as anonymous:
        for name, media in (
            ("swagger-ui-bundle.js", "text/javascript"),
            ("swagger-ui.css", "text/css"),
        ):
            async with anonymous.get(f"/static/vendor/swagger-ui/{name}") as answer:
                assert answer.status == 200
                assert answer.headers["content-type"].startswith(media)
                assert answer.headers["x-content-type-options"] == "nosniff"
                assert hashlib.sha256(await answer.read()).hexdigest() == sums[name]
        async with anonymous.get("/static/api-docs.js") as answer:
            assert answer.headers["content-type"].startswith("text/javascript")
