"""A ``browser`` monitor's page shows its last journey: each step with its time, the pages'
vitals, and where a failed journey stopped as a screenshot that Chromium draws under the
page's CSP; what the target said (console text) is shown as text."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import Browser, expect
from tests.helpers.browser import logged_in, shot
from tests.helpers.journey_site import EMAIL, JourneySite
from tests.helpers.site import Site


def _config(site: JourneySite) -> str:
    return f"""
storage: sqlite:///wk.db
engine: {{startup_spread: 0s, browser: {{concurrency: 1}}}}
monitors:
  - name: login
    interval: 1h
    timeout: 60s
    browser:
      steps:
        - goto: {site.url}/login
        - fill: {{selector: "#email", value: {EMAIL}}}
        - fill: {{selector: "#password", value: "not-the-password"}}
        - click: "button[type=submit]"
        - {{wait_for: "text=Welcome back", timeout: 2s}}
  - name: broken
    interval: 1h
    timeout: 60s
    browser: {site.url}/broken
"""


async def _reports(site: Site, names: list[str]) -> None:
    for _ in range(600):
        if all(site.engine.store.reports(n, 1) for n in names):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("no journey report stored")


async def test_the_monitor_page_shows_the_journey_and_its_screenshot(
    tmp_path: Path, browser: Browser
) -> None:
    async with JourneySite() as target, Site(_config(target), tmp_path) as site:
        await _reports(site, ["login", "broken"])
        page = await logged_in(browser, site)
        violations: list[str] = []
        page.on(
            "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
        )
        await page.goto(f"{site.url}/monitors/login")
        card = page.locator("#journey")
        await expect(card).to_contain_text("Failed: step 5 (wait for 'text=Welcome back'")
        rows = card.locator("tbody tr")
        await expect(rows.first).to_contain_text("1-goto")
        assert await card.locator("text=passed").count() == 4
        image = card.locator("img")
        await expect(image).to_be_visible()
        width = await image.evaluate("(img) => img.complete && img.naturalWidth")
        assert width and width > 100  # decoded and drawn under the CSP
        await shot(page, "journey-failed")

        await page.goto(f"{site.url}/monitors/broken")
        card = page.locator("#journey")
        await expect(card).to_contain_text("Every step passed.")
        await card.locator("summary", has_text="Console errors").click()
        await expect(card).to_contain_text("uncaught ReferenceError")
        assert await card.locator("img").count() == 0
        assert violations == []
