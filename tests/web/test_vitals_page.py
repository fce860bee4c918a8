"""The Web Vitals page in Chromium: the p75 table in rating colours, both charts drawn from
the series API, the worst samples' attribution, under the CSP (no inline script), on a
desktop and a phone; and the page when RUM is off."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

from playwright.async_api import Browser, expect
from tests.helpers.browser import logged_in, shot
from tests.helpers.site import Site

from watchkeeper.rum.histogram import bucket
from watchkeeper.rum.rows import Sample, Tally
from watchkeeper.rum.vitals import Rating, rate
from watchkeeper.store import Store

CONFIG = """
storage: sqlite:///wk.db
rum:
  origins: ["https://shop.example.com"]
  pages:
    - {name: home, pattern: "/"}
    - {name: product, pattern: "/product/*"}
    - {name: checkout, pattern: "/checkout/**"}
"""
CENTRES = {
    ("home", "LCP"): 1400.0,
    ("home", "INP"): 90.0,
    ("home", "CLS"): 0.02,
    ("home", "FCP"): 900.0,
    ("home", "TTFB"): 300.0,
    ("product", "LCP"): 3200.0,
    ("product", "INP"): 240.0,
    ("product", "CLS"): 0.31,
    ("product", "FCP"): 1500.0,
    ("product", "TTFB"): 650.0,
    ("checkout", "LCP"): 5200.0,
    ("checkout", "INP"): 620.0,
    ("checkout", "CLS"): 0.05,
    ("checkout", "FCP"): 2400.0,
    ("checkout", "TTFB"): 1100.0,
}


def seed(store: Store) -> None:
    rng = random.Random(3)
    now = time.time()
    tallies, samples = [], []
    for step in range(0, 24 * 60, 20):  # a tally every 20 minutes over the last day
        at = (now // 60 - step) * 60
        drift = 1.0 + 0.35 * (step < 240)  # the last four hours got slower
        for (page, metric), centre in CENTRES.items():
            for device in ("mobile", "desktop"):
                values = [centre * drift * rng.lognormvariate(0, 0.35) for _ in range(12)]
                counts: dict[int, int] = {}
                ratings = {Rating.GOOD: 0, Rating.NEEDS_IMPROVEMENT: 0, Rating.POOR: 0}
                for value in values:
                    counts[bucket(metric, value)] = counts.get(bucket(metric, value), 0) + 1
                    ratings[rate(metric, value)] += 1
                tallies.append(
                    Tally(at, page, device, metric, len(values), *ratings.values(), counts)
                )
    for index, value in enumerate((9100.0, 7400.0, 6900.0)):
        samples.append(
            Sample(
                f"lcp{index}",
                now - 600 * (index + 1),
                "checkout",
                "mobile",
                "LCP",
                value,
                "poor",
                f"/checkout/step-{index}",
                "navigate",
                {
                    "target": "main>img.banner",
                    "url": "https://cdn.example.com/b.jpg",
                    "timeToFirstByte": 420.0,
                    "resourceLoadDelay": 300.0,
                    "resourceLoadDuration": 5100.0,
                    "elementRenderDelay": 80.0,
                },
            )
        )
    store.rum_write(tallies, samples)


async def test_the_web_vitals_page_shows_p75_in_colour_charts_and_the_worst(
    tmp_path: Path, browser: Browser
) -> None:
    async with Site(CONFIG, tmp_path, seed=seed) as site:
        page = await logged_in(browser, site, viewport={"width": 1360, "height": 1000})
        await page.click("nav >> text=Web Vitals")
        await expect(page).to_have_url(site.url + "/vitals")
        cells = page.locator("table.vitals a.vital")
        await expect(cells).to_have_count(15)
        home_lcp = page.locator("table.vitals tr", has_text="home").locator("a.vital").first
        await expect(home_lcp).to_have_class(re.compile(r"\bvital good\b"))
        checkout = page.locator("table.vitals tr", has_text="checkout")
        await expect(checkout.locator("a.vital").first).to_have_class(re.compile(r"\bvital poor\b"))
        await checkout.locator("a.vital").first.click()
        await expect(page.locator("#vitals-chart canvas")).to_have_count(1)
        await expect(page.locator("#vitals-shares canvas")).to_have_count(1)
        await expect(page.locator("ul.worst li")).to_have_count(3)
        await expect(page.locator("ul.worst")).to_contain_text("main>img.banner")
        await expect(page.locator("ul.worst")).to_contain_text("load 5.10 s")
        await shot(page, "web-vitals")
        assert page.errors == []  # type: ignore[attr-defined]

        phone = await logged_in(
            browser, site, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        await phone.goto(site.url + "/vitals?page=product&metric=CLS&device=mobile")
        await expect(phone.locator("#vitals-chart canvas")).to_have_count(1)
        await shot(phone, "web-vitals-phone")
        assert phone.errors == []  # type: ignore[attr-defined]


async def test_the_page_says_how_to_turn_rum_on(tmp_path: Path, browser: Browser) -> None:
    async with Site("storage: sqlite:///wk.db\n", tmp_path) as site:
        page = await logged_in(browser, site)
        await page.goto(site.url + "/vitals")
        await expect(page.locator("main")).to_contain_text("Real-user monitoring is off")
        await expect(page.locator("main")).to_contain_text(f"{site.url}/rum.js")
        assert page.errors == []  # type: ignore[attr-defined]
