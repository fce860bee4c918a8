"""Running one ``browser`` journey: its steps in a fresh context of a pooled Chromium, each
within what is left of the monitor's timeout, with the page's lab Web Vitals, console errors
and failed requests collected on the way, and a screenshot where it stopped.

What the page says (console text, URLs, titles, its vitals) is hostile: every text is cut to
a few hundred printable characters, at most ``KEPT`` of each list are kept, numbers are
checked and bounded, and a filled value is never shown or stored.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from typing import TYPE_CHECKING, Any, Literal

from watchkeeper.checks._browser_pool import BrowserUnavailable, pool_for
from watchkeeper.checks._browser_steps import BrowserSettings, Step
from watchkeeper.checks.base import Attempt
from watchkeeper.printable import visible
from watchkeeper.redact import mask_url
from watchkeeper.rum.vitals import MAXIMUM, rate

if TYPE_CHECKING:
    from playwright.async_api import Page, Response

KEPT = 20
TEXT = 300
SCREENSHOT_LIMIT = 160 * 1024
"""Bytes of JPEG past which a failure's screenshot is taken again smaller, then dropped."""

VITALS_SCRIPT = """
(() => {
  const v = {lcp: null, fcp: null, cls: 0, ttfb: null};
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) v.lcp = e.renderTime || e.loadTime || e.startTime;
    }).observe({type: 'largest-contentful-paint', buffered: true});
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) v.cls += e.value;
    }).observe({type: 'layout-shift', buffered: true});
    new PerformanceObserver((list) => {
      for (const e of list.getEntries())
        if (e.name === 'first-contentful-paint') v.fcp = e.startTime;
    }).observe({type: 'paint', buffered: true});
  } catch (e) {}
  const read = () => {
    const nav = performance.getEntriesByType('navigation')[0];
    if (nav) v.ttfb = nav.responseStart;
    return [location.href, performance.timeOrigin, v.lcp, v.fcp, v.cls, v.ttfb];
  };
  Object.defineProperty(window, '__watchkeeperVitals', {value: read});
})();
"""


def _text(value: object, limit: int = TEXT) -> str:
    return visible(str(value))[:limit]


class Journey:
    def __init__(self, settings: BrowserSettings, attempt: Attempt) -> None:
        self.settings = settings
        self.attempt = attempt
        self.console: list[str] = []
        self.console_errors = 0
        self.failed: list[str] = []
        self.failed_count = 0
        self._failed_ids: set[int] = set()
        self.requests = 0
        self.status: int | None = None
        self.pages: dict[float, dict[str, Any]] = {}
        self.steps: list[dict[str, Any]] = []
        self.first_ttfb: float | None = None
        self.hidden = sorted(
            {s.fill.value for s in settings.journey if s.fill is not None and s.fill.value},
            key=len,
            reverse=True,
        )
        """What the journey types in: never kept, wherever a page repeats it (its console,
        a URL it navigates to, its title)."""

    def keep(self, value: object, limit: int = TEXT) -> str:
        """A text of the page's, fit to keep: URLs' secrets and typed values masked, made
        printable, cut."""
        text = mask_url(str(value))
        for secret in self.hidden:
            text = text.replace(secret, "***")
        return _text(text, limit)

    # -- what the page does ------------------------------------------------------------------
    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)
        page.on("request", self._request)

    def _request(self, request: Any) -> None:
        self.requests += 1

    def _console(self, message: Any) -> None:
        if message.type == "error" and not _favicon(message):
            self.console_errors += 1
            if len(self.console) < KEPT:
                self.console.append(self.keep(message.text))

    def _page_error(self, error: Any) -> None:
        self.console_errors += 1
        if len(self.console) < KEPT:
            name = getattr(error, "name", "") or "Error"
            message = getattr(error, "message", "") or str(error)
            self.console.append(self.keep(f"uncaught {name}: {message}"))

    def _fails(self, request: Any) -> bool:
        """Count a request once, however many ways it failed (a 404, then aborted)."""
        if id(request) in self._failed_ids:
            return False
        self._failed_ids.add(id(request))
        self.failed_count += 1
        return True

    def _request_failed(self, request: Any) -> None:
        if self._fails(request) and len(self.failed) < KEPT:
            self.failed.append(self.keep(f"{request.method} {request.url}: {request.failure}"))

    def _response(self, response: Response) -> None:
        request = response.request
        if request.is_navigation_request() and request.frame.parent_frame is None:
            self.status = response.status
        if response.status >= 400 and self._fails(request) and len(self.failed) < KEPT:
            self.failed.append(self.keep(f"{request.method} {response.url}: {response.status}"))

    async def read_vitals(self, page: Page) -> None:
        try:
            found = await asyncio.wait_for(
                page.evaluate("() => window.__watchkeeperVitals && window.__watchkeeperVitals()"),
                2.0,
            )
        except Exception:  # navigating away, closed, a page that broke it: not measured
            return
        if not isinstance(found, list) or len(found) != 6:
            return
        url, origin, lcp, fcp, cls, ttfb = found
        if not isinstance(origin, int | float) or not math.isfinite(origin):
            return
        self.pages[float(origin)] = {
            "url": self.keep(url, 500),
            "lcp": _bounded(lcp, "LCP"),
            "fcp": _bounded(fcp, "FCP"),
            "ttfb": _bounded(ttfb, "TTFB"),
            "cls": _bounded(cls, "CLS"),
        }

    # -- the steps ---------------------------------------------------------------------------
    async def run(self, page: Page, deadline: float) -> str | None:
        """Run the steps; the failure's one line, or None when every step passed."""
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        loop = asyncio.get_running_loop()
        for index, step in enumerate(self.settings.journey, 1):
            left = deadline - loop.time()
            budget = min(step.timeout or left, left)
            record: dict[str, Any] = {
                "name": step.label(index),
                "action": step.action,
                "what": _text(step.describe(), 500),
                "ok": False,
            }
            self.steps.append(record)
            if budget <= 0.05:
                record["error"] = "no time left"
                return f"step {index} ({step.describe()}): not reached within the timeout" + (
                    self.waited()
                )
            started = time.perf_counter()
            try:
                await self._step(page, step, budget)
            except PlaywrightTimeout:
                record["error"] = f"timeout after {budget:.1f}s"
                return (
                    f"step {index} ({step.describe()}): timeout after {budget:.1f}s" + self.waited()
                )
            except StepFailed as exc:
                said = self.keep(exc.args[0])
                record["error"] = said
                return f"step {index} ({step.describe()}): {said}"
            except PlaywrightError as exc:
                said = self.keep(_playwright_line(exc))
                record["error"] = said
                return f"step {index} ({step.describe()}): {said}"
            finally:
                record["seconds"] = round(time.perf_counter() - started, 4)
                await self.read_vitals(page)
            record["ok"] = True
        return None

    def waited(self) -> str:
        """How long the journey waited for a browser, when that ate into its time."""
        queued = self.attempt.observation.facts.get("browser.queued")
        if isinstance(queued, float) and queued >= 0.5:
            return f" (after {queued:.1f}s waiting for a browser)"
        return ""

    async def _step(self, page: Page, step: Step, budget: float) -> None:
        from playwright.async_api import expect

        ms = budget * 1000.0
        if step.goto is not None:
            response = await page.goto(step.goto, timeout=ms, wait_until="load")
            if response is not None:
                self.status = response.status
                if self.first_ttfb is None:
                    timing = response.request.timing
                    start, first = timing.get("requestStart"), timing.get("responseStart")
                    if first >= 0:
                        self.first_ttfb = max(0.0, (first - max(start or 0.0, 0.0)) / 1000.0)
        elif step.click is not None:
            await page.click(step.click, timeout=ms)
        elif step.fill is not None:
            await page.fill(step.fill.selector, step.fill.value, timeout=ms)
        elif step.press is not None:
            if step.press.selector:
                await page.press(step.press.selector, step.press.key, timeout=ms)
            else:
                await page.keyboard.press(step.press.key)
        elif step.wait_for is not None:
            if step.wait_for.url is not None:
                await page.wait_for_url(step.wait_for.url, timeout=ms)
            else:
                assert step.wait_for.selector is not None
                await page.wait_for_selector(
                    step.wait_for.selector, state=step.wait_for.state, timeout=ms
                )
        elif step.expect is not None:
            wanted = step.expect
            if wanted.status is not None and self.status != wanted.status:
                raise StepFailed(f"status {self.status}, expected {wanted.status}")
            if wanted.url is not None:
                try:
                    await page.wait_for_url(wanted.url, timeout=ms, wait_until="commit")
                except Exception as exc:
                    if not _is_timeout(exc):
                        raise
                    raise StepFailed(f"url is {page.url[:200]}, expected {wanted.url}") from None
            if wanted.title is not None:
                await expect(page).to_have_title(wanted.title, timeout=ms)
            if wanted.selector is not None:
                await expect(page.locator(wanted.selector).first).to_be_visible(timeout=ms)
            if wanted.text is not None:
                await expect(page.locator("body")).to_contain_text(wanted.text, timeout=ms)

    # -- what is kept ------------------------------------------------------------------------
    def facts(self, page_url: str | None, title: str | None) -> None:
        facts = self.attempt.observation.facts
        if self.status is not None:
            facts["status"] = self.status
        if page_url is not None:
            facts["page.url"] = self.keep(page_url, 2000)
        if title is not None:
            facts["page.title"] = self.keep(title, 500)
        facts["console.errors"] = self.console_errors
        facts["requests.failed"] = self.failed_count
        facts["requests.count"] = self.requests
        facts["steps.completed"] = sum(1 for s in self.steps if s["ok"])
        for step in self.steps:
            if "seconds" in step:
                facts[f"step.{step['name']}"] = step["seconds"]
        for name, metric in (("lcp", "LCP"), ("fcp", "FCP"), ("ttfb", "TTFB"), ("cls", "CLS")):
            values = [p[name] for p in self.pages.values() if p[name] is not None]
            if not values:
                continue
            worst = max(values)
            facts[f"vitals.{name}"] = worst if name == "cls" else worst / 1000.0
            facts[f"vitals.{name}_rating"] = rate(metric, worst).value
        if self.first_ttfb is not None:
            self.attempt.observation.phases.ttfb = self.first_ttfb

    def detail(self, failed: str | None, screenshot: str | None) -> dict[str, Any]:
        report: dict[str, Any] = {
            "steps": self.steps,
            "failed": failed,
            "pages": list(self.pages.values())[:KEPT],
            "console": self.console,
            "failed_requests": self.failed,
        }
        if screenshot is not None:
            report["screenshot"] = screenshot
        return report


def _favicon(message: Any) -> bool:
    """Chromium's own favicon request failing: not the page's error (the page never asked
    for it, and no request event shows it)."""
    try:
        where = str(message.location.get("url", ""))
    except Exception:
        return False
    return where.split("?", 1)[0].endswith("/favicon.ico")


class StepFailed(Exception):
    """An ``expect`` step that did not hold: its one line."""


def _is_timeout(exc: BaseException) -> bool:
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    return isinstance(exc, PlaywrightTimeout) or "Timeout" in str(exc).split("\n", 1)[0]


def _playwright_line(exc: BaseException) -> str:
    """Playwright's message without its call log, prefix or ANSI colours: one line."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if ": " in first and first.split(": ", 1)[0].replace(".", "").isalpha():
        first = first.split(": ", 1)[1]  # "Page.click: ..." → "..."
    if "Expect" in first or "expect" in first.split(" ", 1)[0]:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        first = "; ".join(lines[:3])
    return _text(first.replace("\x1b", ""), 300)


def _bounded(value: object, metric: str) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if not math.isfinite(number) or number < 0 or number > MAXIMUM[metric]:
        return None
    return round(number, 4)


async def _screenshot(page: Page, filled: list[str]) -> str | None:
    """The page as a JPEG data URL, the fields the journey typed into covered."""
    masks = [page.locator(selector) for selector in filled]
    sizes: tuple[tuple[int, Literal["css", "device"]], ...] = ((60, "device"), (35, "css"))
    for quality, scale in sizes:
        try:
            shot = await asyncio.wait_for(
                page.screenshot(
                    type="jpeg", quality=quality, scale=scale, timeout=3000, mask=masks
                ),
                4.0,
            )
        except Exception:
            return None
        if len(shot) <= SCREENSHOT_LIMIT:
            return "data:image/jpeg;base64," + base64.b64encode(shot).decode("ascii")
    return None


async def run_journey(settings: BrowserSettings, attempt: Attempt) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    reserve = min(2.0, attempt.timeout * 0.2)
    deadline = started + attempt.timeout - reserve  # time left for the screenshot and cleanup
    journey = Journey(settings, attempt)
    pool = pool_for(attempt.resources)
    options: dict[str, Any] = {
        "viewport": settings.viewport.model_dump(),
        "ignore_https_errors": not settings.verify_tls,
        "accept_downloads": False,
        "service_workers": "block",
        "java_script_enabled": True,
    }
    if settings.user_agent:
        options["user_agent"] = settings.user_agent
    try:
        async with pool.context(deadline - loop.time(), **options) as context:
            attempt.observation.facts["browser.queued"] = round(loop.time() - started, 4)
            await context.add_init_script(VITALS_SCRIPT)
            page = await context.new_page()
            crashed: list[str] = []
            page.on("crash", lambda _: crashed.append("the page crashed"))
            journey.watch(page)
            failed = await journey.run(page, deadline)
            judged = any(attempt.wanted(f"vitals.{n}") for n in ("lcp", "fcp", "ttfb", "cls"))
            judged = judged or any(attempt.wanted(f"vitals.{n}_rating") for n in ("lcp", "cls"))
            if failed is None and settings.settle > 0 and judged:
                # lab vitals settle after the load event: late paints, shifts
                await asyncio.sleep(max(0.0, min(settings.settle, deadline - loop.time())))
                await journey.read_vitals(page)
            if crashed and failed is None:
                failed = crashed[0]
            title: str | None = None
            try:
                title = await asyncio.wait_for(page.title(), 2.0)
            except Exception:
                title = None
            shot = None
            if failed is not None and settings.screenshot:
                filled = [s.fill.selector for s in settings.journey if s.fill is not None]
                shot = await _screenshot(page, filled)
            journey.facts(page.url, title)
            attempt.observation.detail = journey.detail(failed, shot)
            if failed is not None:
                attempt.fail(failed)
    except BrowserUnavailable as exc:
        attempt.fail(str(exc))
    except Exception as exc:  # the browser went away under the journey
        if journey.steps:
            journey.facts(None, None)
            attempt.observation.detail = journey.detail(_playwright_line(exc), None)
        attempt.fail(f"browser: {_playwright_line(exc)}")
