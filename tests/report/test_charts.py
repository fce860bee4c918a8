"""The HTML reports' charts in a real browser (Debian's chromium): axes over data that hardly
moves, or has one value, must still have ticks a person can tell apart. The ticks are read
from each chart's accessible label, which says what its axes show."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright

from watchkeeper.loadtest.capacity import Capacity, Point, Step
from watchkeeper.report.capacity import capacity_html
from watchkeeper.report.loadtest import loadtest_html

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def axes(browser: Browser, document: str, folder: Path) -> dict[str, dict[str, list[str]]]:
    """Each chart's axes as drawn: {chart id: {axis name: [tick labels]}}."""
    path = folder / "report.html"
    path.write_text(document)
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(path.as_uri())
    found: dict[str, dict[str, list[str]]] = {}
    for holder in await page.locator("[data-chart]").all():
        await holder.and_(page.locator("[aria-label]")).wait_for()
        label = await holder.get_attribute("aria-label")
        chart = await holder.get_attribute("id")
        assert label and chart, label
        _, described = label.split(" — ", 1)
        found[chart] = {
            name: ticks.split(", ")
            for name, ticks in (part.split(" axis ", 1) for part in described.split("; "))
        }
    assert not errors, errors
    return found


def _step(rate: float, answered: float, p99: float) -> Step:
    summary: dict[str, Any] = {
        "achieved_rps": answered,
        "error_rate": 0.0,
        "latency_ms": {"p50": p99 / 2, "p99": p99},
        "thresholds": [],
    }
    return Step(rate, summary, True)


def distinct(ticks: list[str]) -> bool:
    return len(ticks) >= 2 and len(set(ticks)) == len(ticks)


async def test_a_capacity_report_over_flat_throughput_has_ticks_one_can_tell_apart(
    browser: Browser, tmp_path: Path
) -> None:
    # every step and every concurrency answered about 99 req/s: a server at its limit
    steps = [_step(100, 99.0, 12.0), _step(101, 99.2, 12.0), _step(102, 99.4, 12.0)]
    sweep = [Point(n, 99.0 + (n % 3) * 0.2) for n in (1, 2, 4, 8, 16, 32)]
    plan = Capacity(steps, 102.0, None, sweep, None, "no fit", None, None, [], {}).to_json()
    drawn = await axes(browser, capacity_html(plan, "http://127.0.0.1:8080"), tmp_path)
    assert set(drawn) == {"steps", "usl"}
    for chart, found in drawn.items():
        for name, ticks in found.items():
            assert distinct(ticks), (chart, name, ticks)
    assert drawn["usl"]["rps"][0] == "0/s", "throughput is drawn from zero, not magnified"
    assert drawn["steps"]["rps"][0] == "0/s"


async def test_a_one_second_load_test_without_errors_has_sensible_axes(
    browser: Browser, tmp_path: Path
) -> None:
    second = {"t": 0, "offered": 50, "achieved": 50, "errors": 0}
    summary: dict[str, Any] = {
        "model": "open", "target": "http://127.0.0.1:8080", "workers": 1, "duration_s": 1.0,
        "requests": 50, "offered_rps": 50.0, "achieved_rps": 50.0, "errors": 0,
        "error_rate": 0.0, "errors_by_kind": {}, "thresholds": [], "passed": True,
        "warnings": [], "latency_ms": dict.fromkeys(("p50", "p99", "p999", "max"), 4.0),
        "seconds": [{**second, "p50": 4.0, "p90": 4.0, "p99": 4.0, "max": 4.0}],
    }  # fmt: skip
    drawn = await axes(browser, loadtest_html(summary), tmp_path)
    assert set(drawn) == {"latency", "throughput", "errors"}
    for chart, found in drawn.items():
        for name, ticks in found.items():
            assert distinct(ticks), (chart, name, ticks)
    assert drawn["errors"]["n"][:2] == ["0", "1"], "a count has whole ticks"
