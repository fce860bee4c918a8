"""The dashboard's forms posted as a browser without JavaScript would (a session, its CSRF
token, form fields), against the real app on a real port: a bad value comes back as a notice
on the page, never as a server error."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.helpers.site import Site

CONFIG = """
storage: sqlite:///wk.db
monitors:
  - {name: api, tcp: "127.0.0.1:9", interval: 1h, timeout: 1s}
"""


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with Site(CONFIG, tmp_path) as running:
        yield running


async def test_a_maintenance_start_that_is_not_a_time_is_refused_with_a_notice(
    site: Site,
) -> None:
    admin, csrf = await site.login()
    async with admin:
        form = {"csrf": csrf, "name": "upgrade", "start": "yesterday", "duration": "1h"}
        async with admin.post("/maintenance", data=form, allow_redirects=False) as answer:
            assert answer.status == 303, await answer.text()
            location = answer.headers["Location"]
        query = parse_qs(urlsplit(location).query)
        assert query["kind"] == ["error"]
        assert query["notice"][0].startswith("Window not added: start: Input should be a valid")
        async with admin.get(location) as page:
            assert page.status == 200
            assert "Window not added: start:" in html.unescape(await page.text())
    assert site.engine.alerting.api_maintenance == []


async def test_a_maintenance_start_from_the_form_is_a_utc_time(site: Site) -> None:
    admin, csrf = await site.login()
    async with admin:
        form = {"csrf": csrf, "name": "upgrade", "start": "2031-05-06T07:08", "duration": "1h"}
        async with admin.post("/maintenance", data=form, allow_redirects=False) as answer:
            assert answer.status == 303
            assert parse_qs(urlsplit(answer.headers["Location"]).query)["kind"] == ["ok"]
    [window] = site.engine.alerting.api_maintenance
    assert window.start == datetime(2031, 5, 6, 7, 8, tzinfo=UTC).timestamp()
