"""The overview of a fleet over plain HTTP (no script): a page of rows at a time, search and
filters over every monitor, the JSON its script asks for, and what it weighs."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from tests.helpers.alerting import eventually
from tests.helpers.site import Site
from tests.helpers.switchable import SwitchableTarget

from watchkeeper.web.pages.overview import PAGE_ROWS

FLEET = 250


def config(target: SwitchableTarget, fleet: int = FLEET) -> str:
    lines = [
        "storage: sqlite:///wk.db",
        "defaults: {interval: 1s, timeout: 1s, confirm: 1, recover: 1}",
        "monitors:",
        f'  - {{name: bad, http: "{target.url("/bad")}", tags: [shop]}}',
    ]
    lines += [  # paused: in the list, never checked
        f'  - {{name: fleet-{i:04d}, http: "{target.url(f"/f{i}")}", paused: true, '
        f"tags: [team-{i % 3}]}}"
        for i in range(fleet)
    ]
    lines.append(f'  - {{name: late, http: "{target.url("/late")}", tags: [shop]}}')
    return "\n".join(lines) + "\n"


@pytest.fixture
async def target() -> AsyncIterator[SwitchableTarget]:
    async with SwitchableTarget() as server:
        server.fail("bad")
        yield server


@pytest.fixture
async def site(tmp_path: Path, target: SwitchableTarget) -> AsyncIterator[Site]:
    async with Site(config(target), tmp_path) as running:
        await eventually(lambda: _state(running, "bad") == "down" and _state(running, "late"))
        yield running


@pytest.fixture
async def reader(site: Site) -> AsyncIterator[aiohttp.ClientSession]:
    async with site.client(site.token("read")) as session:
        yield session


def _state(site: Site, name: str) -> str:
    status = site.engine.status.get(name)
    return str(status.state) if status and status.last_result else ""


async def page(session: aiohttp.ClientSession, path: str) -> tuple[list[str], str]:
    async with session.get(path) as answer:
        assert answer.status == 200, path
        html = await answer.text()
    return re.findall(r'<tr data-name="([^"]+)"', html), html


async def test_the_overview_shows_a_page_of_rows_trouble_first_and_links_to_the_rest(
    reader: aiohttp.ClientSession,
) -> None:
    names, html = await page(reader, "/")
    assert len(names) == PAGE_ROWS
    assert names[:2] == ["bad", "late"], "trouble first, then up, then the paused"
    assert names[2:4] == ["fleet-0000", "fleet-0001"], "config order within a state"
    assert f"1–100 of {FLEET + 2}" in html
    assert 'href="/?page=2" data-page="2" rel="next"' in html
    assert '<a class="monitor-name" href="/monitors/bad">' in html
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', html))
    assert counts == {"down": "1", "degraded": "0", "up": "1", "paused": str(FLEET)}

    names, html = await page(reader, "/?page=3")
    assert names == [f"fleet-{i:04d}" for i in range(198, FLEET)]
    assert 'href="/?page=2" data-page="2" rel="prev"' in html
    assert 'rel="next"' not in html
    assert (await page(reader, "/?page=99"))[0] == names, "past the end: the last page"


async def test_search_state_and_tag_pick_from_every_monitor_not_just_the_first_page(
    reader: aiohttp.ClientSession,
) -> None:
    names, html = await page(reader, "/?q=FLEET-0249")
    assert names == ["fleet-0249"]
    assert 'value="FLEET-0249"' in html
    assert (await page(reader, "/?q=/f248"))[0] == ["fleet-0248"], "the target is searched too"
    assert (await page(reader, "/?state=down"))[0] == ["bad"]
    names, html = await page(reader, "/?state=paused&tag=team-2")
    assert names == [f"fleet-{i:04d}" for i in range(2, FLEET, 3)][:PAGE_ROWS]
    assert "No monitor matches" in html and 'id="no-match"' in html
    names, html = await page(reader, "/?q=nothing-like-this")
    assert names == [] and 'class="empty"' in html, "the empty note is shown"
    # the chips carry the rest of the view, so they work without the script
    assert 'href="/?q=nothing-like-this&amp;state=down"' in html


async def test_the_rows_json_follows_the_fleet_live(
    reader: aiohttp.ClientSession, site: Site, target: SwitchableTarget
) -> None:
    async with reader.get("/overview/rows?state=paused&page=2&q=fleet") as answer:
        assert answer.status == 200
        assert answer.headers["cache-control"] == "no-store"
        data = await answer.json()
    assert data["address"] == "/?q=fleet&state=paused&page=2"
    assert (data["shown"], data["total"], data["page"], data["pages"]) == (FLEET, FLEET + 2, 2, 3)
    assert data["counts"] == {"down": 1, "up": 1, "paused": FLEET}
    assert re.findall(r'data-name="([^"]+)"', data["rows"])[0] == "fleet-0100"
    assert "101–200 of 250" in data["pager"]
    assert "1 needs attention" in data["summary"]

    target.fail("late")  # far down the list while up: now on the first page, live

    async def late_is_second() -> bool:
        async with reader.get("/overview/rows") as answer:
            rows = re.findall(r'data-name="([^"]+)"', (await answer.json())["rows"])
        return rows[:2] == ["bad", "late"] and _state(site, "late") == "down"

    await eventually(late_is_second)


async def test_anonymous_callers_get_no_rows(site: Site) -> None:
    async with (
        site.client() as anonymous,
        anonymous.get("/overview/rows", allow_redirects=False) as answer,
    ):
        assert answer.status == 303
        assert answer.headers["location"] == "/login?next=%2Foverview%2Frows"


async def test_states_can_be_asked_for_some_monitors(reader: aiohttp.ClientSession) -> None:
    async with reader.get("/api/v1/states?name=bad&name=fleet-0003&name=nope") as answer:
        data = await answer.json()
    assert sorted(data["monitors"]) == ["bad", "fleet-0003"]
    assert data["monitors"]["bad"]["state"] == "down"
    assert data["counts"]["paused"] == FLEET, "counts cover every monitor"
    async with reader.get("/api/v1/states") as answer:
        assert len((await answer.json())["monitors"]) == FLEET + 2
    too_many = "&".join(f"name=m{i}" for i in range(501))
    async with reader.get(f"/api/v1/states?{too_many}") as answer:
        assert answer.status == 422


async def test_a_fleet_of_thousands_is_one_small_page(tmp_path: Path) -> None:
    async with (
        SwitchableTarget() as target,
        Site(config(target, fleet=5000), tmp_path) as site,
        site.client(site.token("read")) as reader,
        reader.get("/", headers={"Accept-Encoding": "gzip"}, auto_decompress=False) as answer,
    ):
        assert answer.headers["content-encoding"] == "gzip"
        sent = await answer.read()
    html = gzip.decompress(sent)
    assert html.count(b"<tr data-name=") == PAGE_ROWS
    assert len(html) < 200_000, len(html)
    assert len(sent) < 30_000, len(sent)
