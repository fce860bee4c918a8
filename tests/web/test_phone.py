"""Every page on a phone (390×844, touch): nothing wider than the screen, so nothing needs
sideways scrolling, no table cell wider than its box, and every link of the top bar reachable
through its menu (a toggle that works without script). Screenshots of each page go beside the
others (``tests.helpers.browser``).

An element may reach past the screen's edge only inside a box made to scroll sideways on its
own and named in ``SCROLLS_ON_ITS_OWN`` with why. None is needed today: the tables are laid
out for a narrow screen, and Swagger UI wraps its code blocks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from tests.helpers.alerting import eventually
from tests.helpers.browser import logged_in, shot
from tests.helpers.site import Site
from tests.helpers.switchable import SwitchableTarget

from watchkeeper.model import Phases, Result
from watchkeeper.store import Store

WIDTH = 390
PHONE: dict[str, Any] = {
    "viewport": {"width": WIDTH, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
SCROLLS_ON_ITS_OWN: dict[str, str] = {}
"""Selectors of boxes that scroll sideways on purpose, each with the reason it may."""

OVERFLOW = """
([width, allowed]) => {
  const found = [], cells = [];
  const describe = (el) => {
    const classes = typeof el.className === "string" ? el.className.trim().split(/\\s+/) : [];
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      classes.filter(Boolean).map((name) => "." + name).join("");
  };
  function excused(el) {
    for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
      const style = getComputedStyle(box);
      if (style.overflowX !== "visible" && allowed.some((selector) => box.matches(selector))) {
        return true;
      }
    }
    return false;
  }
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if ((r.right > width + 0.5 || r.left < -0.5) && !excused(el)) {
      found.push(describe(el) + " spans " + Math.round(r.left) + ".." + Math.round(r.right));
    }
  }
  // a narrow table's cells hold what they show (a pill wider than its cell would overlap
  // the next one without reaching the screen's edge)
  for (const cell of document.querySelectorAll("table.responsive td")) {
    if (cell.getClientRects().length && cell.scrollWidth > cell.clientWidth + 1) {
      cells.push(describe(cell.closest("table")) + " " + cell.textContent.trim().slice(0, 40));
    }
  }
  return {
    scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth, found, cells
  };
}
"""


async def fits(page: Page, name: str) -> None:
    """The page fits the phone's width: the document does not scroll sideways and no
    element reaches past the edge (but inside the boxes allowed to scroll on their own)."""
    await page.wait_for_load_state("networkidle")
    await shot(page, f"phone-{name}")
    measured = await page.evaluate(OVERFLOW, [WIDTH, list(SCROLLS_ON_ITS_OWN)])
    # a phone widens its layout to the widest content, so innerWidth alone would not tell
    assert measured["scroll"] <= measured["inner"] == WIDTH, (name, measured)
    assert not measured["found"], (name, measured["found"][:20])
    assert not measured["cells"], (name, measured["cells"][:20])


def config(target: SwitchableTarget) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 1s, timeout: 1s, confirm: 1, recover: 1}}
status_pages:
  - path: /status
    title: Acme status
    description: How our shop is doing right now.
    components:
      - {{name: Storefront, monitors: [web]}}
      - {{name: Payments, tags: [payments]}}
monitors:
  - name: web
    http: "{target.url("/web")}"
    tags: [shop, frontend, customer-facing]
    description: The shop's front page, as customers see it from everywhere in the world
  - name: checkout-payment-provider-callback
    http: "{target.url("/checkout")}"
    tags: [shop, payments]
  - {{name: search, http: "{target.url("/search")}", tags: [shop]}}
"""


def history(store: Store) -> None:
    """A day of an earlier run of web, for its chart and uptime bars."""
    import time

    now = time.time()
    store.ensure_monitors([("web", "http", "")])
    store.write(
        [
            Result("web", "http", now - 86400 + i * 120, i % 50 != 0, Phases(total=0.03))
            for i in range(700)
        ]
    )
    store.rollup(now, grace=0)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with SwitchableTarget() as target:
        target.fail("checkout")
        async with Site(config(target), tmp_path, seed=history) as running:
            await eventually(
                lambda: (
                    (s := running.engine.status.get("checkout-payment-provider-callback"))
                    and str(s.state) == "down"
                )
            )
            yield running


async def test_every_page_fits_a_phone_and_the_menu_reaches_every_link(
    browser: Browser, site: Site
) -> None:
    page = await logged_in(browser, site, **PHONE)
    await expect(page.locator("#monitors tbody tr")).to_have_count(3)
    row = page.locator('tr[data-name="checkout-payment-provider-callback"]')
    for part in (".monitor-name", "[data-role=state-text]", "[data-role=ago]"):
        await expect(row.locator(part)).to_be_in_viewport()  # name, state and last check
    await fits(page, "overview")

    links = page.locator("nav.nav a")
    assert not await links.first.is_visible(), "the links wait behind the menu"
    await page.click("label.menu-toggle")
    for index in range(await links.count()):
        await expect(links.nth(index)).to_be_in_viewport()
    await fits(page, "menu")
    await page.click('nav.nav a[href="/incidents"]')
    await expect(page).to_have_url(site.url + "/incidents")
    await fits(page, "incidents")
    incident = page.locator("table.incidents tr").filter(
        has_text="checkout-payment-provider-callback"
    )
    await incident.locator("a[href^='/incidents/']").first.click()
    await expect(page.locator("h1")).to_contain_text("checkout-payment-provider-callback")
    await fits(page, "incident")

    await page.goto(site.url + "/monitors/web")
    await expect(page.locator("#chart canvas")).to_be_visible(timeout=15_000)
    await fits(page, "monitor")

    await page.goto(site.url + "/silences")  # with a silence and a window in its tables
    await page.select_option("#silence-monitor", "checkout-payment-provider-callback")
    await page.fill("#silence-reason", "the payment provider migrates its callback endpoints")
    await page.click("#silence-submit")
    await expect(page.locator("#silences tbody tr[data-silence]")).to_have_count(1)
    await page.fill('input[name="name"]', "weekly-database-upgrade")
    await page.fill('input[name="cron"]', "0 3 * * SUN")
    await page.click('form[action="/maintenance"] button[type="submit"]')
    await expect(page.locator("table.windows tbody tr")).to_contain_text("weekly-database-upgrade")
    await fits(page, "silences")

    await page.goto(site.url + "/api/docs")  # with an answer tried out, as a person would
    states = page.locator("#operations-monitors-states_api_v1_states_get")
    await states.locator(".opblock-summary").click(timeout=15_000)
    await states.locator("button.try-out__btn").click()
    await states.locator("button.execute").click()
    await expect(states.locator(".live-responses-table tbody .response-col_status")).to_have_text(
        "200"
    )
    await fits(page, "api-docs")

    for path, name, ready in (
        ("/monitors/nothing-here", "not-found", "h1"),
        ("/status", "status", ".component"),
    ):
        await page.goto(site.url + path)
        await expect(page.locator(ready).first).to_be_visible()
        await fits(page, name)
    assert not page.errors, page.errors  # type: ignore[attr-defined]

    visitor = await (await browser.new_context(**PHONE)).new_page()
    await visitor.goto(site.url + "/login")
    await fits(visitor, "login")


async def test_the_first_run_setup_fits_a_phone(browser: Browser, tmp_path: Path) -> None:
    async with Site("storage: sqlite:///wk.db\nmonitors: []\n", tmp_path, users=False) as site:
        page = await (await browser.new_context(**PHONE)).new_page()
        await page.goto(site.url + "/")
        await expect(page).to_have_url(site.url + "/setup")
        await fits(page, "setup")
