"""``browser`` journeys in Debian's Chromium (the oracle for what a page does: its own
Performance API gives the vitals, its console the errors) against a real site made by the
test: a login form with a session cookie, and pages that misbehave."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import psutil
import pytest
from tests.helpers.browser import chromium
from tests.helpers.cli import wk
from tests.helpers.journey_site import EMAIL, PASSWORD, JourneySite

from watchkeeper.checks import Resources
from watchkeeper.checks._browser_options import BrowserOptions
from watchkeeper.checks._browser_pool import BrowserPool, pool_for
from watchkeeper.config import Monitor, parse_config
from watchkeeper.engine import run_check
from watchkeeper.model import Result


@pytest.fixture
async def site() -> AsyncIterator[JourneySite]:
    async with JourneySite() as served:
        yield served


def _monitor(text: str, **env: str) -> Monitor:
    config = parse_config(textwrap.dedent(text), "test.yaml", env=env)
    [monitor] = config.monitors
    return monitor


async def _run(resources: Resources, monitor: Monitor, secrets: frozenset[str] = frozenset()
               ) -> Result:  # fmt: skip
    return await run_check(monitor, resources, secrets)


def _login(site: JourneySite, password: str = "${PW}", tail: str = "") -> str:
    return f"""
    monitors:
      - name: login
        browser:
          steps:
            - goto: {site.url}/login
            - fill: {{selector: "#email", value: {EMAIL}}}
            - fill: {{selector: "#password", value: "{password}"}}
            - {{click: "button[type=submit]", name: submit}}
            - {{wait_for: "text=Welcome back", timeout: 5s}}
            - expect: {{url: "**/dashboard", title: Dashboard, status: 200}}
        timeout: 30s
        expect: ["console.errors == 0", "step.submit < 20s", "steps.completed == 6"]
{tail}"""


async def test_a_login_journey_passes_with_its_steps_and_vitals(
    site: JourneySite, resources: Resources
) -> None:
    config = parse_config(textwrap.dedent(_login(site)), "t.yaml", env={"PW": PASSWORD})
    [monitor] = config.monitors
    result = await _run(resources, monitor, config.secrets)
    assert result.ok, result.reason
    assert result.status == 200 and site.logins == 1 and len(site.sessions) == 1
    assert {f"step.{n}" for n in ("1-goto", "2-fill", "3-fill", "submit", "5-wait-for")} <= set(
        result.metrics
    )
    assert result.metrics["steps.completed"] == 6 and result.metrics["console.errors"] == 0
    # the vitals come from Chromium's own Performance API, one entry per page visited
    detail = result.detail or {}
    pages = [p["url"].rsplit("/", 1)[-1] for p in detail["pages"]]
    assert pages == ["login", "dashboard"]
    assert all(p["fcp"] is not None and p["fcp"] > 0 for p in detail["pages"])
    assert result.phases.ttfb is not None and result.phases.ttfb > 0
    # the password never leaves the journey: not in the result, not in its report
    shown = json.dumps(result.to_json()) + json.dumps(detail)
    assert PASSWORD not in shown and "correct horse" not in shown
    assert "screenshot" not in detail


async def test_a_failed_step_is_named_with_a_screenshot_of_where_it_stopped(
    site: JourneySite, resources: Resources
) -> None:
    config = parse_config(textwrap.dedent(_login(site)), "t.yaml", env={"PW": "wrong-secret"})
    [monitor] = config.monitors
    result = await _run(resources, monitor, config.secrets)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("step 5 (wait for 'text=Welcome back' (visible)): timeout")
    detail = result.detail or {}
    assert [s["ok"] for s in detail["steps"]] == [True, True, True, True, False]
    shot = detail["screenshot"]
    assert shot.startswith("data:image/jpeg;base64,")
    jpeg = base64.b64decode(shot.split(",", 1)[1])
    assert jpeg[:3] == b"\xff\xd8\xff"  # a JPEG, of the login page that said no
    assert detail["failed"] == result.error
    assert "wrong-secret" not in json.dumps(detail) + json.dumps(result.to_json())
    # the 401 of the form post is a failed request
    assert result.metrics["requests.failed"] >= 1


async def test_what_the_journey_typed_is_never_kept_wherever_the_page_repeats_it(
    site: JourneySite, resources: Resources
) -> None:
    monitor = _monitor(
        f"""
        monitors:
          - name: leaky
            browser:
              steps:
                - goto: {site.url}/leaky
                - fill: {{selector: "#password", value: "${{SECRET}}"}}
                - click: "#go"
                - {{wait_for: "#never-there", timeout: 2s}}
            timeout: 30s
        """,
        SECRET="s3cr3t-typed-value",
    )
    result = await _run(resources, monitor)
    detail = result.detail or {}
    # the page logged it, put it in its title and in a URL that 404s: all masked
    assert any("debug: password is ***" in line for line in detail["console"]), detail
    assert any("/nowhere?pw=***" in line for line in detail["failed_requests"]), detail
    kept = json.dumps(detail) + json.dumps(result.to_json())
    assert "s3cr3t-typed-value" not in kept and "s3cr3t" not in kept
    # the screenshot covers the field it typed into (Playwright's mask: magenta), as
    # Chromium decodes the JPEG and reads the pixel at the field's centre
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(f"{site.url}/leaky")
        box = await page.locator("#password").bounding_box()
        assert box is not None
        pixel = await page.evaluate(
            """async ([src, x, y]) => {
                const img = new Image(); img.src = src; await img.decode();
                const canvas = document.createElement('canvas');
                canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
                const context = canvas.getContext('2d'); context.drawImage(img, 0, 0);
                return Array.from(context.getImageData(x, y, 1, 1).data);
            }""",
            [detail["screenshot"], box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
    red, green, blue, _ = pixel
    assert red > 200 and green < 60 and blue > 200, pixel


async def test_console_errors_and_failed_requests_are_counted_and_capped(
    site: JourneySite, resources: Resources
) -> None:
    monitor = _monitor(
        f"""
        monitors:
          - name: broken
            browser: {site.url}/broken
            expect: ["console.errors == 0"]
        """
    )
    result = await _run(resources, monitor)
    assert not result.ok
    # the 404 of /missing.js (Chromium logs it), console.error(), the uncaught ReferenceError
    assert result.metrics["console.errors"] == 3, (result.detail or {}).get("console")
    assert result.failures == ["console.errors 3, expected == 0"]
    detail = result.detail or {}
    assert any("missing.js: 404" in line for line in detail["failed_requests"]), detail
    assert "uncaught ReferenceError: undefinedFunction is not defined" in detail["console"]
    assert result.metrics["requests.failed"] == 1  # the 404, then aborted: one request
    assert all(len(line) <= 300 for line in detail["console"])  # 5,000 x's, cut


@pytest.mark.parametrize(("delay", "good"), [(100, True), (2900, False)])
async def test_lab_vitals_come_from_chromium_and_are_rated_like_rum(
    site: JourneySite, resources: Resources, delay: int, good: bool
) -> None:
    monitor = _monitor(
        f"""
        monitors:
          - name: hero
            browser: {{url: "{site.url}/late/{delay}", settle: 4s}}
            timeout: 20s
            expect: ["vitals.lcp < 2.5s", "vitals.lcp_rating == 'good'"]
        """
    )
    result = await _run(resources, monitor)
    lcp = result.metrics["vitals.lcp"]
    assert lcp >= delay / 1000  # the hero text painted after the delay is the LCP
    assert (result.detail or {})["pages"][-1]["lcp"] >= delay
    assert result.ok is good, result.reason
    if not good:  # 2.9 s: over RUM's 2.5 s "good", under its 4 s "poor"
        assert [f.split(",")[0].split(" ")[0] for f in result.failures] == [
            "vitals.lcp",
            "vitals.lcp_rating",
        ]
        assert "'needs-improvement'" in result.failures[1]


async def test_a_layout_shift_is_measured(site: JourneySite, resources: Resources) -> None:
    monitor = _monitor(
        f"""
        monitors:
          - name: shifty
            browser: {site.url}/shifty
            expect: ["vitals.cls_rating == 'good'"]
        """
    )
    result = await _run(resources, monitor)
    assert result.metrics["vitals.cls"] > 0.1  # an ad pushed the content down 400 px
    assert not result.ok and result.failures[0].startswith("vitals.cls_rating ")


async def test_a_page_that_never_loads_fails_in_its_step_within_the_timeout(
    site: JourneySite, resources: Resources
) -> None:
    monitor = _monitor(
        f"""
        monitors:
          - name: never
            browser:
              steps: [{{goto: "{site.url}/never", timeout: 3s}}]
            timeout: 60s
        """
    )
    result = await _run(resources, monitor)
    assert not result.ok
    # the journey's own step timeout, not the engine's cut: it names the step
    assert result.error is not None and result.error.startswith(f"step 1 (goto {site.url}/never)")
    assert "timeout after" in result.error
    assert (result.detail or {}).get("screenshot", "").startswith("data:image/jpeg")


async def test_a_selector_that_never_appears_names_it(
    site: JourneySite, resources: Resources
) -> None:
    monitor = _monitor(
        f"""
        monitors:
          - name: missing
            browser:
              steps:
                - goto: {site.url}/login
                - {{click: "#no-such-button", timeout: 2s}}
            timeout: 20s
        """
    )
    result = await _run(resources, monitor)
    assert result.error is not None
    assert result.error.startswith("step 2 (click '#no-such-button'): timeout after 2.0s")


async def test_the_pool_bounds_concurrency_and_restarts_browsers(site: JourneySite) -> None:
    options = BrowserOptions(concurrency=1, restart_after=2)
    resources = Resources(settings={"browser": options})
    monitor = _monitor(
        f"""
        monitors:
          - {{name: home, browser: "{site.url}/login", timeout: 30s}}
        """
    )
    try:
        results = await asyncio.gather(*(run_check(monitor, resources) for _ in range(3)))
        assert all(r.ok for r in results), [r.reason for r in results]
        waited = sorted(r.metrics["browser.queued"] for r in results)
        assert waited[-1] > waited[0]  # one browser: the others waited their turn
        pool: BrowserPool = resources.shared("browser.pool", lambda: BrowserPool(options))
        assert pool.launched == 2  # 3 journeys, a fresh browser after every 2

        # a browser that crashed is replaced for the next journey
        slot = pool._all[0]
        assert slot.pid is not None
        os.kill(slot.pid, signal.SIGKILL)
        result = await run_check(monitor, resources)
        assert result.ok, result.reason
        assert pool.launched == 3
    finally:
        await resources.aclose()


async def test_a_browser_over_its_memory_limit_is_started_afresh(site: JourneySite) -> None:
    options = BrowserOptions(concurrency=1, memory="64MiB")  # Chromium needs more
    resources = Resources(settings={"browser": options})
    monitor = _monitor(f"monitors:\n  - {{name: home, browser: '{site.url}/login'}}\n")
    try:
        for _ in range(2):
            assert (await run_check(monitor, resources)).ok
        pool: BrowserPool = resources.shared("browser.pool", lambda: BrowserPool(options))
        assert pool.launched == 2 and pool._all[0].browser is None
    finally:
        await resources.aclose()


async def test_a_stuck_browser_blocks_no_other_check(site: JourneySite) -> None:
    """SIGSTOP the browser mid-run: the journey fails within its timeout, an HTTP check of the
    same site runs meanwhile, and the next journey gets a new browser."""
    options = BrowserOptions(concurrency=1)
    resources = Resources(settings={"browser": options})
    journey = _monitor(f"monitors:\n  - {{name: j, browser: '{site.url}/login', timeout: 60s}}\n")
    short = _monitor(f"monitors:\n  - {{name: j, browser: '{site.url}/login', timeout: 5s}}\n")
    plain = _monitor(f"monitors:\n  - {{name: h, http: '{site.url}/login', timeout: 5s}}\n")
    try:
        assert (await run_check(journey, resources)).ok
        pool: BrowserPool = resources.shared("browser.pool", lambda: BrowserPool(options))
        pid = pool._all[0].pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            stuck = asyncio.create_task(run_check(short, resources))
            other = await run_check(plain, resources)
            assert other.ok and not stuck.done()  # the HTTP check did not wait for it
            result = await stuck
        finally:
            with contextlib.suppress(ProcessLookupError):  # the pool killed it: good
                os.kill(pid, signal.SIGCONT)
        assert not result.ok and result.error is not None and "timeout" in result.error
        again = await run_check(journey, resources)
        assert again.ok, again.reason
        assert pool.launched == 2  # the wedged one was not trusted again
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    finally:
        await resources.aclose()


@pytest.mark.parametrize(
    ("step", "said"),
    [
        ("{goto: 'file:///etc/passwd'}", "is not an http(s):// URL"),
        ("{click: '#a', fill: {selector: '#b', value: x}}", "a step is one of goto"),
        ("{clik: '#a'}", "clik"),
        ("{wait_for: {state: visible}}", "wait_for takes a selector or a url"),
    ],
)
async def test_bad_steps_are_one_line_at_their_place(tmp_path: Any, step: str, said: str) -> None:
    config = tmp_path / "watchkeeper.yaml"
    config.write_text(
        "monitors:\n"
        "  - name: j\n"
        "    browser:\n"
        "      steps:\n"
        "        - goto: https://example.com/\n"
        f"        - {step}\n"
    )
    done = await wk("validate", "-c", str(config))
    assert done.code == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert f"{config}:6" in lines[0] and said in lines[0], lines[0]


async def test_scheduling_a_journey_starts_its_browser_before_the_first_run(
    site: JourneySite,
) -> None:
    """The first journey does not pay for starting Chromium: the scheduler warms the pool
    as soon as a browser monitor is scheduled, long before its first run is due."""
    from watchkeeper.engine.scheduler import Scheduler

    resources = Resources(settings={"browser": BrowserOptions(concurrency=2)})
    monitor = _monitor(f"monitors:\n  - {{name: j, browser: '{site.url}/login', interval: 1h}}\n")
    ran: list[Result] = []

    async def on_result(_: Monitor, result: Result) -> bool:
        ran.append(result)
        return True

    scheduler = Scheduler([], on_result, resources=resources, startup_spread=3600)
    try:
        scheduler.add(monitor, at=asyncio.get_running_loop().time() + 3600)
        pool = pool_for(resources)
        for _ in range(600):
            if pool.launched:
                break
            await asyncio.sleep(0.1)
        assert pool.launched == 1 and ran == []  # started, and no journey ran
        assert [slot.alive for slot in pool._all].count(True) == 1
        result = await run_check(monitor, resources)
        assert result.ok and pool.launched == 1  # the journey used the warm browser
    finally:
        scheduler.stop()
        await scheduler.drain(1.0)
        await resources.aclose()
