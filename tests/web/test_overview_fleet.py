"""The overview of three thousand monitors in a real browser: one page of rows, and search,
state filters, live updates and paging over all of them, with its script and without."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from tests.helpers.alerting import eventually
from tests.helpers.browser import logged_in, shot
from tests.helpers.site import Site
from tests.helpers.switchable import SwitchableTarget

from watchkeeper.web.pages.overview import PAGE_ROWS

CHECKED, PAUSED = 300, 2700


def config(target: SwitchableTarget) -> str:
    lines = [
        "storage: sqlite:///wk.db",
        "defaults: {interval: 1s, timeout: 1s, confirm: 1, recover: 1}",
        "monitors:",
        f'  - {{name: bad, http: "{target.url("/bad")}", tags: [shop]}}',
    ]
    lines += [  # checked once an hour: up, and enough of them to fill the first pages
        f'  - {{name: fleet-{i:04d}, http: "{target.url(f"/f{i}")}", interval: 1h, timeout: 20s}}'
        for i in range(CHECKED)
    ]
    lines += [
        f'  - {{name: fleet-{i:04d}, http: "{target.url(f"/f{i}")}", paused: true}}'
        for i in range(CHECKED, CHECKED + PAUSED)
    ]
    lines.append(f'  - {{name: late, http: "{target.url("/late")}", tags: [shop]}}')
    return "\n".join(lines) + "\n"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[Site, SwitchableTarget]]:
    async with SwitchableTarget() as target:
        target.fail("bad")
        async with Site(config(target), tmp_path) as running:

            def judged() -> bool:
                status = running.engine.status
                fleet = [status.get(f"fleet-{i:04d}") for i in range(CHECKED)]
                return all(s is not None and s.last_result for s in fleet) and all(
                    (s := status.get(name)) is not None and s.last_result
                    for name in ("bad", "late")
                )

            await eventually(judged, timeout=60)
            up = {name for name, s in running.engine.status.items() if str(s.state) == "up"}
            assert up >= {f"fleet-{i:04d}" for i in range(CHECKED)}, "the fleet answered"
            yield running, target


async def test_search_filters_live_updates_and_pages_cover_the_whole_fleet(
    browser: Browser, site: tuple[Site, SwitchableTarget]
) -> None:
    running, target = site
    page = await logged_in(browser, running, viewport={"width": 1360, "height": 900})
    rows = page.locator("#monitors tbody tr")
    await expect(rows).to_have_count(PAGE_ROWS)
    await expect(page.locator("#pager")).to_contain_text("1–100 of 3,002")
    await expect(page.locator("tr[data-name=late]")).to_have_count(0)  # up, far down the list

    await page.fill("#search", "fleet-2999")  # paused, on the last page
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-name", "fleet-2999")
    await expect(page).to_have_url(running.url + "/?q=fleet-2999")
    await page.click("tr[data-name=fleet-2999] a.monitor-name")
    await expect(page).to_have_url(running.url + "/monitors/fleet-2999")
    await expect(page.locator("h1")).to_contain_text("fleet-2999")
    await page.go_back()
    await expect(rows).to_have_count(1)
    await page.fill("#search", "")
    await expect(rows).to_have_count(PAGE_ROWS)

    await page.click('#state-chips .chip[data-state="paused"]')
    await expect(page.locator("#pager")).to_contain_text("1–100 of 2,700")
    await expect(rows.first).to_have_attribute("data-name", f"fleet-{CHECKED:04d}")
    await page.click('#state-chips .chip[data-state="down"]')
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-name", "bad")
    await expect(page.locator('.tile[data-state-filter="down"]')).to_have_class("tile selected")
    await expect(page).to_have_url(running.url + "/?state=down")

    target.fail("late")  # live: it goes down and joins the down filter without a reload
    await expect(rows).to_have_count(2, timeout=15_000)
    await expect(page.locator("tr[data-name=late] [data-role=state-text]")).to_have_text("Down")
    await expect(page.locator('[data-count="down"]')).to_have_text("2")
    await page.click('#state-chips .chip[data-state=""]')
    await expect(rows).to_have_count(PAGE_ROWS)
    assert await rows.nth(1).get_attribute("data-name") == "late", "trouble first"
    target.heal("bad")  # live: a row on the page changes
    await expect(page.locator("tr[data-name=bad] [data-role=state-text]")).to_have_text(
        "Up", timeout=15_000
    )
    await expect(page.locator('[data-count="down"]')).to_have_text("1")
    await shot(page, "overview-fleet", full_page=False)

    await page.click("#pager a[rel=next]")
    await expect(page).to_have_url(running.url + "/?page=2")
    await expect(page.locator("#pager")).to_contain_text("101–200 of 3,002")
    await expect(rows).to_have_count(PAGE_ROWS)
    assert not page.errors, page.errors  # type: ignore[attr-defined]


async def test_without_script_the_first_page_links_and_the_form_work(
    browser: Browser, site: tuple[Site, SwitchableTarget]
) -> None:
    running, _ = site
    page = await logged_in(
        browser, running, viewport={"width": 1360, "height": 900}, java_script_enabled=False
    )
    rows = page.locator("#monitors tbody tr")
    await expect(rows).to_have_count(PAGE_ROWS)
    await page.click("#pager a[rel=next]")
    await expect(page).to_have_url(running.url + "/?page=2")
    await expect(page.locator("#pager")).to_contain_text("101–200 of 3,002")
    await page.fill("#search", "fleet-2999")
    await page.press("#search", "Enter")
    await expect(page).to_have_url(running.url + "/?q=fleet-2999&tag=&state=")
    await expect(rows).to_have_count(1)
    await page.fill("#search", "")
    await page.press("#search", "Enter")
    await page.click('#state-chips .chip[data-state="down"]')
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-name", "bad")
