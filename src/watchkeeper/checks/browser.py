"""``browser``: a journey through a site in a real Chromium — a login that must keep working.

    - name: login
      browser:
        steps:
          - goto: https://app.example.com/login
          - fill: {selector: "#email", value: probe@example.com}
          - fill: {selector: "#password", value: "${PROBE_PASSWORD}"}
          - click: "button[type=submit]"
          - wait_for: "text=Dashboard"
          - expect: {url: "**/dashboard", text: "Welcome back"}
      interval: 5m
      timeout: 60s
      expect: ["console.errors == 0", "vitals.lcp < 2.5s"]

    - {name: home, browser: https://example.com}        # a journey of one step: load it

Steps: ``goto`` (a URL), ``click`` (a selector), ``fill`` ({selector, value}: values may be
``${SECRETS}``; they are never shown or stored), ``press`` ({key, selector?}), ``wait_for`` (a
selector, or {selector, state: visible|hidden|attached|detached}, or {url: glob}), ``expect``
({text, url, selector, title, status}: each must hold within the step's time). Selectors are
Playwright's (CSS, ``text=...``, ``role=...``). Each step may have ``name`` and ``timeout``.

Facts: ``status`` (the last page load's HTTP status), ``page.url``, ``page.title``,
``console.errors`` (console errors and uncaught exceptions), ``requests.failed`` (requests
that failed or got a 4xx/5xx), ``requests.count``, ``steps.completed``, ``step.<name>`` (each
step's seconds; unnamed steps are ``1-goto``, ``2-fill``, ...), ``browser.queued`` (seconds
waited for a free browser), and the lab Web Vitals of the slowest page of the journey:
``vitals.lcp``, ``vitals.fcp``, ``vitals.ttfb`` (durations), ``vitals.cls`` (a score), with
``vitals.lcp_rating`` (etc.) by the thresholds real-user monitoring uses. Phases: ``ttfb``
(the first page's), ``total``. A failed journey names its step, and its report (the monitor
page) keeps a screenshot of where it stopped.
"""

from __future__ import annotations

from watchkeeper.checks._browser_steps import BrowserSettings, Step
from watchkeeper.checks.base import Attempt, CheckKind, Resources
from watchkeeper.expect import ValueType

__all__ = ["CHECK", "BrowserSettings", "Step"]


async def warm(resources: Resources) -> None:
    """Start the pool's first browser while the first journey is still to come."""
    from watchkeeper.checks._browser_pool import pool_for

    await pool_for(resources).warm()


async def probe(settings: BrowserSettings, attempt: Attempt) -> None:
    from watchkeeper.checks._journey import run_journey

    await run_journey(settings, attempt)


VITALS = ("lcp", "fcp", "ttfb", "cls")

SUBJECTS: dict[str, ValueType] = {
    "ttfb": ValueType.DURATION,
    "status": ValueType.NUMBER,
    "page.url": ValueType.TEXT,
    "page.title": ValueType.TEXT,
    "console.errors": ValueType.NUMBER,
    "requests.failed": ValueType.NUMBER,
    "requests.count": ValueType.NUMBER,
    "steps.completed": ValueType.NUMBER,
    "step.*": ValueType.DURATION,
    "browser.queued": ValueType.DURATION,
    "vitals.lcp": ValueType.DURATION,
    "vitals.fcp": ValueType.DURATION,
    "vitals.ttfb": ValueType.DURATION,
    "vitals.cls": ValueType.NUMBER,
    **{f"vitals.{name}_rating": ValueType.TEXT for name in VITALS},
}


CHECK = CheckKind(
    name="browser",
    settings=BrowserSettings,
    subjects=SUBJECTS,
    probe=probe,
    warm=warm,
    default_expect=(),
    interval=300.0,
    timeout=60.0,
    runtime=(
        "playwright.async_api",
        "watchkeeper.checks._journey",
        "watchkeeper.checks._browser_pool",
    ),
)
