"""The pages in a real browser: Playwright driving Debian's chromium against the app on a real
port. Each test saves a screenshot (see ``tests.helpers.browser``) so a person can look at
what the browser saw."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from tests.helpers.alerting import eventually
from tests.helpers.browser import logged_in, shot
from tests.helpers.site import Site
from tests.helpers.switchable import SwitchableTarget

from watchkeeper.model import Phases, Result
from watchkeeper.state.maintenance import Mutes
from watchkeeper.store import Store


def config(target: SwitchableTarget) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 300ms, timeout: 250ms, confirm: 1, recover: 1, retry_interval: 100ms}}
status_pages:
  - path: /status
    title: Acme status
    description: How our shop is doing right now.
    components:
      - {{name: Storefront, monitors: [web]}}
      - {{name: Payments, tags: [payments]}}
monitors:
  - {{name: web, http: "{target.url("/web")}", tags: [shop]}}
  - {{name: checkout, http: "{target.url("/checkout")}", tags: [shop, payments]}}
  - {{name: search, http: "{target.url("/search")}", tags: [shop]}}
"""


@pytest.fixture
async def target() -> AsyncIterator[SwitchableTarget]:
    async with SwitchableTarget() as server:
        yield server


def history(store: Store) -> None:
    """Two days of an earlier run, one bad hour: for the chart and the uptime bars."""
    now = time.time()
    store.ensure_monitors([("web", "http", "")])
    store.write(
        [
            Result(
                "web",
                "http",
                now - 2 * 86400 + i * 120,
                not (700 <= i < 730),
                Phases(connect=0.001, ttfb=0.02 + (i % 30) / 1000, total=0.03 + (i % 30) / 1000),
                [] if not (700 <= i < 730) else ["status 503, expected < 400"],
            )
            for i in range(1400)
        ]
    )
    store.rollup(now, grace=0)


@pytest.fixture
async def site(tmp_path: Path, target: SwitchableTarget) -> AsyncIterator[Site]:
    target.fail("checkout")
    async with Site(config(target), tmp_path, seed=history) as running:
        yield running


async def test_login_then_the_overview_shows_every_monitor_in_its_state(
    browser: Browser, site: Site, target: SwitchableTarget
) -> None:
    page = await logged_in(browser, site, viewport={"width": 1360, "height": 860})
    rows = page.locator("#monitors tbody tr")
    await expect(rows).to_have_count(3)
    await expect(page.locator('tr[data-name="checkout"] [data-role=state-text]')).to_have_text(
        "Down"
    )
    await expect(page.locator('tr[data-name="web"] [data-role=state-text]')).to_have_text("Up")
    assert await rows.first.get_attribute("data-name") == "checkout", "trouble comes first"
    await expect(page.locator('tr[data-name="checkout"] [data-role=reason]')).to_contain_text(
        "status 503"
    )
    await page.fill("#search", "sea")
    await expect(page.locator("#monitors tbody tr:not(.hidden)")).to_have_count(1)
    assert "q=sea" in page.url, "the filter is in the address, so it can be shared"
    await page.fill("#search", "")
    await shot(page, "overview")

    target.heal("checkout")  # live: the page follows without a reload
    await expect(page.locator('tr[data-name="checkout"] [data-role=state-text]')).to_have_text(
        "Up", timeout=15_000
    )
    await expect(page.locator('[data-count="down"]')).to_have_text("0")
    assert not page.errors, page.errors  # type: ignore[attr-defined]


async def test_the_monitor_page_draws_its_latency_chart_and_uptime_bars(
    browser: Browser, site: Site
) -> None:
    page = await logged_in(browser, site, viewport={"width": 1360, "height": 900})
    await page.goto(site.url + "/monitors/web")
    await expect(page.locator("#chart canvas")).to_have_count(1, timeout=10_000)
    note = page.locator("#chart-note")
    await expect(note).to_contain_text("points")
    points = int((await note.inner_text()).split()[0])
    assert points > 100, await note.inner_text()
    legend = page.locator("#chart .u-legend")
    await expect(legend).to_contain_text("Waiting (TTFB)")
    await expect(legend).to_contain_text("p95")
    await expect(
        page.locator(".bars span.bad, .bars span.warn, .bars span.fair")
    ).not_to_have_count(0)
    await expect(note).to_contain_text("1m buckets")  # 24 h of a 300 ms monitor: minutes
    await page.click('#ranges button[data-range="30d"]')
    # 30 days asked, 2 days of history: judged on the span with data, still minutes
    await expect(note).to_contain_text("over the last 30d")
    await expect(note).to_contain_text("1m buckets")
    await shot(page, "monitor")
    assert not page.errors, page.errors  # type: ignore[attr-defined]


async def test_the_status_page_renders_for_anyone_and_shows_nothing_internal(
    browser: Browser, site: Site
) -> None:
    for _ in range(200):  # the page is drawn once: wait for checkout's first check
        status = site.engine.status.get("checkout")
        if status is not None and str(status.state) == "down":
            break
        await asyncio.sleep(0.05)
    page = await (await browser.new_context(viewport={"width": 1100, "height": 800})).new_page()
    await page.goto(site.url + "/status")
    await expect(page.locator("h1")).to_have_text("Acme status")
    await expect(page.locator(".banner")).to_have_text("Some systems are down")
    await expect(page.locator(".component h3")).to_have_text(["Storefront", "Payments"])
    await expect(page.locator(".component").nth(1).locator(".state-word")).to_have_text("Outage")
    html = await page.content()
    for internal in ("127.0.0.1", "/checkout", "503", "expected"):
        assert internal not in html, internal
    await shot(page, "status")
    phone = await (
        await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    ).new_page()
    await phone.goto(site.url + "/status")
    await expect(phone.locator(".component")).to_have_count(2)
    await shot(phone, "status-phone")


async def test_a_silence_made_in_the_page_holds_the_monitors_notifications(
    browser: Browser, site: Site
) -> None:
    page = await logged_in(browser, site, viewport={"width": 1360, "height": 860})
    await page.goto(site.url + "/silences")
    await page.select_option("#silence-monitor", "checkout")
    await page.select_option("#silence-duration", "4h")
    await page.fill("#silence-reason", "payment provider maintenance")
    await page.click("#silence-submit")
    await expect(page.locator(".notice")).to_contain_text("holds monitor checkout")
    await expect(page.locator("#silences tbody tr")).to_have_count(1)
    await expect(page.locator("#silences")).to_contain_text("payment provider maintenance")
    mutes = Mutes([], site.engine.alerting._silences, time.time())
    assert mutes.reason("checkout", ("shop", "payments")) == (
        "silence #1 (payment provider maintenance)"
    ), "alerting holds it at once"
    assert mutes.reason("web", ("shop",)) is None
    await shot(page, "silences")


async def test_the_overview_is_usable_on_a_phone(browser: Browser, site: Site) -> None:
    page = await logged_in(
        browser, site, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    await expect(page.locator("#monitors tbody tr")).to_have_count(3)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "no sideways scrolling"
    await shot(page, "overview-phone")


async def test_the_monitor_page_charts_what_a_host_check_observes(
    browser: Browser, tmp_path: Path
) -> None:
    text = """
storage: sqlite:///wk.db
monitors:
  - {name: box, host: local, interval: 500ms, timeout: 500ms}
"""
    async with Site(text, tmp_path) as running:
        writer = running.engine.writer
        assert writer is not None
        await eventually(lambda: writer.written >= 3)
        page = await logged_in(browser, running, viewport={"width": 1360, "height": 900})
        await page.goto(running.url + "/monitors/box")
        rows = page.locator("tr[data-metric]")
        await expect(rows.first).to_be_visible()
        assert await page.locator('tr[data-metric="disk./.used_pct"]').count() == 1
        assert await page.locator("#chart").is_hidden() is False  # host checks have a latency
        note = page.locator("#metric-note")
        await expect(note).to_contain_text("cpu.used_pct: ", timeout=10_000)  # the kind's lead
        await expect(page.locator("#metric-chart canvas")).to_have_count(1)
        await page.click('tr[data-metric="memory.available"]')
        await expect(note).to_contain_text("memory.available: ")
        await expect(page.locator('tr[data-metric="memory.available"]')).to_have_class("on")
        latest = await page.locator('tr[data-metric="memory.available"] td.num').inner_text()
        assert latest.endswith("GiB") or latest.endswith("MiB"), latest
        await shot(page, "monitor-observations")
        assert not page.errors, page.errors  # type: ignore[attr-defined]


def slower(store: Store) -> None:
    """Six hours of checks of search, three times slower to answer for the last two."""
    now = time.time()
    store.ensure_monitors([("search", "http", "")])
    store.write(
        [
            Result(
                "search",
                "http",
                now - 6 * 3600 + i * 20,
                True,
                Phases(
                    connect=0.001,
                    ttfb=(0.3 if i >= 720 else 0.1) + (i % 7) / 1000,
                    total=(0.3 if i >= 720 else 0.1) + (i % 7) / 1000 + 0.001,
                ),
            )
            for i in range(1060)
        ]
    )


async def test_the_monitor_page_says_what_changed(
    browser: Browser, target: SwitchableTarget, tmp_path: Path
) -> None:
    async with Site(config(target), tmp_path, seed=slower) as site:
        page = await logged_in(browser, site, viewport={"width": 1360, "height": 900})
        await page.goto(site.url + "/monitors/search")
        card = page.locator("#diagnosis")
        await expect(card).to_be_visible(timeout=10_000)
        await expect(card).to_contain_text("latency p95 rose from")
        await expect(card).to_contain_text("TTFB +")
        await expect(card.locator(".sev.warning")).not_to_have_count(0)
        await shot(page, "monitor-what-changed")
        await page.goto(site.url + "/monitors/web")  # nothing changed there: no card
        await expect(page.locator("#chart canvas")).to_have_count(1, timeout=10_000)
        await expect(page.locator("#diagnosis")).to_be_hidden()
        assert not page.errors, page.errors  # type: ignore[attr-defined]


async def test_every_page_works_under_a_policy_without_inline_scripts(
    browser: Browser, site: Site
) -> None:
    page = await logged_in(browser, site, viewport={"width": 1360, "height": 900})
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    answer = await page.goto(site.url + "/monitors/web")
    assert answer is not None
    policy = dict(
        part.strip().split(" ", 1)
        for part in answer.headers["content-security-policy"].split(";")
        if part.strip()
    )
    assert "'unsafe-inline'" not in policy["script-src"], policy
    await expect(page.locator("#chart canvas")).to_have_count(1, timeout=10_000)
    for path in ("/", "/incidents", "/silences", "/status"):
        await page.goto(site.url + path)
        await page.wait_for_load_state("networkidle")
    assert await page.evaluate("document.body.dataset.page") == "status"
    assert not refused, refused
    assert not page.errors, page.errors  # type: ignore[attr-defined]
