"""Error tracking end to end: ``wk project add`` prints a DSN, a real ``wk up`` takes what
the real ``sentry-sdk`` sends from a web application, and ``wk errors`` lists the issues —
including for a project made while ``wk up`` runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.helpers.cli import Running, wk
from tests.helpers.sentry_app import SentryApp


async def _issues(config: Path, wanted: int, *args: str) -> list[dict[str, object]]:
    """``wk errors --json`` once it lists ``wanted`` issues (events are written in batches)."""
    for _ in range(100):
        listed = await wk("errors", "--json", "-c", str(config), *args)
        assert listed.code in (0, 1), listed.stderr
        found: list[dict[str, object]] = listed.json()
        if len(found) >= wanted:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"wk errors listed {found}")


async def test_a_dsn_from_wk_project_add_takes_the_sdks_events_into_wk_errors(
    tmp_path: Path,
) -> None:
    config = tmp_path / "watchkeeper.yaml"
    config.write_text("storage: sqlite:///wk.db\nprojects:\n  - {name: shop}\n")
    server = Running("-c", str(config), cwd=tmp_path)
    base = ("--url", server.url, "-c", str(config))

    added = await wk("project", "add", "web", "--rate-limit", "100/s", *base)
    assert added.code == 0, added.stderr
    lines = added.stdout.strip().splitlines()
    assert lines[0] == "project 'web' (id 2); its DSN:"
    dsn = lines[1]
    assert dsn.startswith("http://") and dsn.endswith(f"@{server.url.split('://')[1]}/2")

    await server.start()
    try:
        listed = await wk("project", "list", "--json", *base)
        assert [(p["name"], p["id"], p["source"]) for p in listed.json()] == [
            ("shop", 1, "config"),
            ("web", 2, "api"),
        ]
        async with SentryApp(dsn, release="web@3.1") as app:
            for path in ("/divide", "/divide", "/missing"):
                assert await app.get(path) == 500
            await app.flush()
        issues = await _issues(config, 2)
        assert [(i["title"], i["count"], i["project"]) for i in issues] == [
            ("KeyError: 'b'", 1, "web"),
            ("ZeroDivisionError: division by zero", 2, "web"),
        ]
        table = await wk("errors", "-c", str(config))
        assert table.code == 1, "unresolved issues: something to act on"
        assert "ZeroDivisionError: division by zero  __main__ in divide" in table.stdout

        late = await wk("project", "add", "late", *base)  # while wk up runs
        assert late.code == 0, late.stderr
        async with SentryApp(late.stdout.strip().splitlines()[1]) as app:
            await app.get("/missing")
            await app.flush()
        (issue,) = await _issues(config, 1, "--project", "late")
        assert issue["title"] == "KeyError: 'b'"

        unknown = await wk("errors", "--project", "nope", "-c", str(config))
        assert unknown.code == 2
        assert unknown.stderr.strip() == f"{config}: no project named 'nope' (wk project list)"
    finally:
        assert await server.stop() == 0, server.stderr
