"""Error alerts end to end: a real ``wk up``, the real ``sentry-sdk`` in a web application,
a real webhook receiver. A new issue is told once, the same bug again is not, a resolved
issue seen in a newer release is told as a regression, and a burst as one spike."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from tests.helpers.cli import Running, wk
from tests.helpers.receivers import HookReceiver, Request
from tests.helpers.sentry_app import SentryApp


async def _issue(config: Path, title: str, count: int) -> dict[str, Any]:
    """The issue of that title as ``wk errors --json`` lists it, once it has ``count``."""
    found: list[dict[str, Any]] = []
    for _ in range(150):
        listed = await wk("errors", "--json", "--status", "all", "-c", str(config))
        found = listed.json() if listed.code in (0, 1) else []
        for issue in found:
            if issue["title"] == title and int(issue["count"]) >= count:
                return issue
        await asyncio.sleep(0.2)
    raise AssertionError(f"no issue '{title}' with {count} events in {found}")


def _told(requests: list[Request]) -> list[tuple[str, str]]:
    return [(r.json()["event"], r.json()["alerts"][0]["reason"]) for r in requests]


def _age(database: Path, issue_id: int, seconds: float) -> None:
    """Make the issue look first seen (and reopened) ``seconds`` ago: a spike is looked for
    only in an issue older than ten minutes (``errortrack.spikes.SETTLE``)."""
    with sqlite3.connect(database, timeout=30) as connection:
        connection.execute(
            "UPDATE error_issues SET first_seen = ?, regressed_at = NULL WHERE id = ?",
            (time.time() - seconds, issue_id),
        )


async def test_new_issues_regressions_and_spikes_reach_the_projects_routes_once(
    tmp_path: Path,
) -> None:
    async with HookReceiver() as hook:
        config = tmp_path / "watchkeeper.yaml"
        server = Running("-c", str(config), cwd=tmp_path)
        config.write_text(
            "storage: sqlite:///wk.db\n"
            f"server: {{public_url: '{server.url}'}}\n"
            f"notify:\n  - {{name: hook, webhook: '{hook.url()}'}}\n"
            "projects:\n  - {name: shop, notify: [hook]}\n  - {name: quiet}\n"
        )
        await server.start()
        try:
            listed = await wk("project", "list", "--json", "--url", server.url, "-c", str(config))
            dsns = {p["name"]: p["dsn"] for p in listed.json()}

            async with SentryApp(dsns["quiet"], release="q@1") as app:  # no routes: nothing
                assert await app.get("/divide") == 500
                await app.flush()
            await _issue(config, "ZeroDivisionError: division by zero", 1)

            async with SentryApp(dsns["shop"], release="shop@1.0") as app:
                assert await app.get("/divide") == 500
                await app.flush()
                await hook.wait(lambda r: len(r) >= 1)
                first = hook.requests[0].json()
                assert first["event"] == "new"
                assert first["title"] == "[NEW ERROR] shop: ZeroDivisionError: division by zero"
                (item,) = first["alerts"]
                assert item["target"] == "__main__ in divide"  # the top in-app frame
                assert (item["monitor"], item["count"], item["release"]) == (
                    "shop",
                    1,
                    "shop@1.0",
                )
                assert item["environment"] == "test"
                assert item["url"] == f"{server.url}/errors/{item['issue']}"
                assert "at __main__ in divide" in first["text"]
                assert f"{server.url}/errors/{item['issue']}" in first["text"]
                divide = item["issue"]

                for _ in range(3):  # the same bug again: counted, not told
                    assert await app.get("/divide") == 500
                await app.flush()
                await _issue(config, "ZeroDivisionError: division by zero", 4)
                assert await app.get("/missing") == 500  # a new bug: told, after nothing else
                await app.flush()
                await hook.wait(lambda r: len(r) >= 2)
                await asyncio.sleep(1.0)  # anything queued meanwhile would be sent by now
                assert _told(hook.requests) == [
                    ("new", "ZeroDivisionError: division by zero"),
                    ("new", "KeyError: 'b'"),
                ]

            status, _ = await server.request("POST", f"/api/v1/errors/issues/{divide}/resolve")
            assert status == 200
            async with SentryApp(dsns["shop"], release="shop@1.1") as app:
                assert await app.get("/divide") == 500  # the fix did not work
                await app.flush()
                await hook.wait(lambda r: len(r) >= 3)
                regression = hook.requests[2].json()
                assert regression["event"] == "regression"
                assert regression["alerts"][0]["issue"] == divide
                assert regression["alerts"][0]["release"] == "shop@1.1"
                assert regression["title"].startswith("[REGRESSION] shop: ZeroDivisionError")

                assert await app.get("/burst?n=1") == 200
                await app.flush()
                await hook.wait(lambda r: len(r) >= 4)
                burst = hook.requests[3].json()["alerts"][0]
                assert (hook.requests[3].json()["event"], burst["reason"]) == (
                    "new",
                    "queue is full",
                )
                _age(tmp_path / "wk.db", burst["issue"], 2 * 3600)
                for _ in range(2):  # two bursts within the hour: one spike
                    assert await app.get("/burst?n=40") == 200
                    await app.flush()
                await _issue(config, "queue is full", 81)
                await hook.wait(lambda r: len(r) >= 5)
                await app.get("/tenant?name=sentinel")
                await app.flush()
                await hook.wait(lambda r: len(r) >= 6)
                await asyncio.sleep(1.0)
            events = [(r.json()["event"], r.json()["alerts"][0]["issue"]) for r in hook.requests]
            assert events[4] == ("spike", burst["issue"])
            assert [e for e, _ in events] == ["new", "new", "regression", "new", "spike", "new"]
            spike = hook.requests[4].json()
            assert spike["title"].startswith("[ERROR SPIKE] shop: queue is full — ")
            assert "usually 0 a minute" in spike["text"]
            assert spike["alerts"][0]["count"] > 10
            assert len({r.headers["idempotency-key"] for r in hook.requests}) == 6
        finally:
            assert await server.stop() == 0, server.stderr
