"""Projects follow the config: a reload adds, changes and removes the config's projects in a
running ``wk up``; a project's id and key outlive restarts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from tests.helpers.site import Site

KEY = "0123456789abcdef0123456789abcdef"
BEFORE = f"""
storage: sqlite:///wk.db
projects:
  - {{name: shop, key: {KEY}}}
  - {{name: gone}}
"""
AFTER = f"""
storage: sqlite:///wk.db
projects:
  - {{name: shop, key: {KEY}, rate_limit: 1/1h}}
  - {{name: new}}
"""
BODY = b'{}\n{"type":"event"}\n{"message":"hello"}\n'


async def _send(site: Site, project_id: int, key: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{site.url}/api/{project_id}/envelope/?sentry_key={key}", data=BODY
        ) as answer,
    ):
        return answer.status


async def test_a_reload_adds_changes_and_removes_projects(tmp_path: Path) -> None:
    async with Site(BEFORE, tmp_path) as site:
        tracker = site.engine.errors
        gone = tracker.by_name("gone")
        assert gone is not None
        (tmp_path / "watchkeeper.yaml").write_text(AFTER)

        outcome = await site.reloader.reload("test")
        for _ in range(100):
            if tracker.by_name("new") is not None:
                break
            await asyncio.sleep(0.05)
        new = tracker.by_name("new")
        shop = tracker.by_name("shop")

        assert outcome.ok and "projects" in outcome.changes.settings
        assert new is not None and shop is not None
        assert await _send(site, new.id, new.key) == 200
        assert await _send(site, gone.id, gone.key) == 403
        assert [await _send(site, shop.id, KEY) for _ in range(2)] == [200, 429]


async def test_ids_and_made_keys_outlive_a_restart(tmp_path: Path) -> None:
    async with Site(BEFORE, tmp_path) as site:
        first = {p.name: (p.id, p.key) for p in site.engine.errors.projects.values()}
    async with Site(BEFORE, tmp_path, users=False) as site:
        again = {p.name: (p.id, p.key) for p in site.engine.errors.projects.values()}

    assert first == again
    assert json.dumps(first).count(KEY) == 1
