"""Playwright driving Debian's chromium for the page tests: how it is launched, logging in
through the real form, and screenshots (``WK_SCREENSHOTS``, default
``.artifacts/screenshots``) so a person can look at what the browser saw."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from playwright.async_api import Browser, Page, async_playwright, expect
from tests.helpers.site import ADMIN, ADMIN_PASSWORD

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(
    os.environ.get("WK_SCREENSHOTS") or Path(__file__).parents[2] / ".artifacts" / "screenshots"
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Served(Protocol):
    """A Watchkeeper being served (``Site`` in the test's process, ``Running``'s wk up)."""

    url: str


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: Page, name: str, full_page: bool = True) -> None:
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


async def logged_in(browser: Browser, site: Served, **context: object) -> Page:
    """A new page in a new context, logged in as the admin through the form, on the
    overview; ``page.errors`` collects the script errors it meets."""
    page = await (await browser.new_context(**context)).new_page()  # type: ignore[arg-type]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(site.url + "/")
    await expect(page).to_have_url(site.url + "/login?next=%2F")
    await page.fill("#name", ADMIN)
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("#login")
    await expect(page).to_have_url(site.url + "/")
    return page
