"""The Security page in Chromium: an audited nginx site's grade, score history, Observatory
tests and findings, on a desktop and on a phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from tests.helpers.alerting import eventually
from tests.helpers.browser import logged_in, shot
from tests.helpers.nginx import Nginx
from tests.helpers.site import Site
from tests.web.test_phone import PHONE, fits

SITE = """
server {{
    listen {address}:{https_port} ssl;
    ssl_certificate {cert}; ssl_certificate_key {key};
    root {root};
    add_header X-Frame-Options DENY always;
    add_header X-Content-Type-Options nosniff always;
}}
"""


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    with Nginx(tmp_path, SITE) as nginx:
        (nginx.root / "index.html").write_text("<!doctype html><title>shop</title><h1>shop</h1>")
        config = (
            "monitors:\n"
            "  - name: shop-storefront-audit\n"
            f'    audit: {{url: "{nginx.url("/", https=True)}", ca_file: "{nginx.ca_file}",'
            " min_grade: B, delivery: false}\n"
            '  - {name: plain, tcp: "127.0.0.1:9"}\n'
        )
        async with Site(config, tmp_path) as running:
            await eventually(
                lambda: running.store.latest_reports(["shop-storefront-audit"]), timeout=60
            )
            yield running


async def test_the_security_page_shows_the_grade_tests_and_fixes(
    browser: Browser, site: Site
) -> None:
    page = await logged_in(browser, site)
    await page.click('nav.nav a[href="/security"]')
    row = page.locator("table.audits tbody tr")
    await expect(row).to_have_count(1)  # the tcp monitor is not audited
    grade = site.store.latest_reports(["shop-storefront-audit"])["shop-storefront-audit"]
    await expect(row.locator(".grade")).to_have_text(grade.body["grade"])
    await shot(page, "security")
    await row.locator("a.monitor-name").click()
    await expect(page.locator("h1")).to_have_text("shop-storefront-audit")
    tests = page.locator("table tbody tr").filter(has_text="content-security-policy")
    await expect(tests.locator(".fail")).to_have_count(1)
    findings = page.locator(".finding")
    assert await findings.count() == len(grade.body["findings"]) > 0
    await expect(findings.filter(has_text="Content-Security-Policy").first).to_contain_text("Fix:")
    await shot(page, "security-site")
    assert not page.errors, page.errors  # type: ignore[attr-defined]

    phone = await logged_in(browser, site, **PHONE)
    await phone.goto(site.url + "/security")
    await fits(phone, "security")
    await phone.goto(site.url + "/security/shop-storefront-audit")
    await fits(phone, "security-site")
