"""Live reload on a running engine and web app (real store, real targets, real HTTP): what a
reload changes, what it leaves alone, and that an invalid file changes nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.helpers.servers import RawServer, RefusingPort
from tests.helpers.site import Site
from tests.helpers.web_app import ProbeTargetServer
from tests.web.test_api import call

from watchkeeper.config import Config
from watchkeeper.engine.reload import Outcome
from watchkeeper.model import State
from watchkeeper.store import alerts as db

NIGHTLY = "6f9b8a52-3c1e-4d7e-9a55-1d2b3c4d5e6f"


@pytest.fixture
async def web() -> AsyncIterator[ProbeTargetServer]:
    async with ProbeTargetServer() as server:
        yield server


def hits(web: ProbeTargetServer, monitor: str) -> int:
    return sum(1 for r in web.requests if r.path.endswith(f"?m={monitor}"))


def monitor(web: ProbeTargetServer, name: str, extra: str = "") -> str:
    return f'  - {{name: {name}, http: "{web.url(f"/health?m={name}")}"{extra}}}\n'


async def until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "still not true"
        await asyncio.sleep(0.02)
    return value


async def reload(site: Site, text: str) -> Outcome:
    (site.folder / "watchkeeper.yaml").write_text(text)
    outcome = await site.reloader.reload("test")
    return outcome


HEAD = """
storage: sqlite:///wk.db
defaults: {interval: 1h, timeout: 5s, confirm: 1, recover: 1}
monitors:
"""


async def test_an_unchanged_monitor_keeps_its_slot_and_state_while_others_come_go_and_change(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    fast = ", interval: 100ms, timeout: 90ms"
    text = HEAD + monitor(web, "keep") + monitor(web, "gone", fast) + monitor(web, "change")
    async with Site(text, tmp_path) as site:
        engine = site.engine
        assert engine.scheduler is not None
        await until(lambda: hits(web, "keep") and hits(web, "change") and hits(web, "gone") > 2)
        await until(lambda: engine.status["keep"].state is State.UP)
        keep_status = engine.status["keep"]
        keep_next = engine.scheduler.next_run("keep")
        change_next = engine.scheduler.next_run("change")
        change_status = engine.status["change"]

        moved = (
            HEAD
            + "  # keep moved down, with a comment above it\n"
            + monitor(web, "change", ", expect: [\"json.status == 'ok'\"]")
            + monitor(web, "added", fast)
            + "\n"
            + monitor(web, "keep")
        )
        outcome = await reload(site, moved)
        assert outcome.ok, outcome.errors
        assert outcome.changes.monitors.added == ("added",)
        assert outcome.changes.monitors.removed == ("gone",)
        assert [str(c) for c in outcome.changes.monitors.changed] == ["change (expect)"]
        gone_hits = hits(web, "gone")

        # added: checked; changed: checked again at once, its state kept
        await until(lambda: hits(web, "added") >= 3 and hits(web, "change") >= 2)
        assert engine.status["change"].since == change_status.since
        assert engine.scheduler.next_run("change") != change_next
        # unchanged: the same slot, not one extra check, the very same status
        assert engine.scheduler.next_run("keep") == keep_next
        assert hits(web, "keep") == 1
        assert engine.status["keep"] is keep_status
        assert engine.monitors["keep"].line == 9, "the new definition, where it is now written"
        # removed: no more checks (one in flight at the reload may still land)
        assert hits(web, "gone") <= gone_hits + 1
        assert "gone" not in engine.status and "gone" not in engine.monitors
        assert engine.scheduler.next_run("gone") is None


async def test_an_invalid_file_changes_nothing_and_says_file_and_line(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    text = HEAD + monitor(web, "api")
    async with Site(text, tmp_path) as site:
        running = site.engine.config
        broken = text + monitor(web, "new", ', expect: ["status =! 200"]')
        outcome = await reload(site, broken)
        path = tmp_path / "watchkeeper.yaml"
        assert not outcome.ok
        assert outcome.errors[0].startswith(f"{path}:6: monitor 'new': expect[0]")
        assert site.engine.config is running
        assert set(site.engine.monitors) == {"api"}
        assert outcome.lines() == [
            f"reload of watchkeeper.yaml refused (test), the running config stays: "
            f"{outcome.errors[0]}"
        ]


async def test_a_check_in_flight_when_its_monitor_is_removed_is_stored_and_nothing_else(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    asked, answer = asyncio.Event(), asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        asked.set()
        await answer.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async with RawServer(slow) as target:
        text = HEAD + monitor(web, "api") + f'  - {{name: slow, http: "{target.url("/")}"}}\n'
        async with Site(text, tmp_path) as site:
            await asyncio.wait_for(asked.wait(), 30)
            outcome = await reload(site, HEAD + monitor(web, "api"))
            assert outcome.changes.monitors.removed == ("slow",)
            written = site.engine.writer.written if site.engine.writer else 0
            answer.set()
            await until(lambda: site.engine.writer and site.engine.writer.written > written)
            assert [r.ok for r in site.store.last_results("slow", 10)] == [True]
            assert "slow" not in site.engine.status, "its state is not watched any more"


async def test_a_removed_monitor_s_open_incident_is_closed_and_its_history_kept(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    def incidents(site: Site) -> list[db.Incident]:
        with site.store.read() as connection:
            return db.incidents(connection, open_only=False, limit=10, monitor="down")

    with RefusingPort() as refusing:
        down = f'  - {{name: down, http: "{refusing.url("/")}", interval: 100ms, timeout: 90ms}}\n'
        async with Site(HEAD + monitor(web, "api") + down, tmp_path) as site:
            await until(lambda: [i for i in incidents(site) if i.open])
            await reload(site, HEAD + monitor(web, "api"))
            [closed] = incidents(site)
            assert closed.state == "removed" and not closed.open
            await until(lambda: site.store.last_results("down", 1))  # written, and kept


async def test_routes_pages_and_maintenance_take_the_new_config_and_a_kept_route_its_notifier(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    def config(routes: str, title: str, window: str) -> str:
        return (
            "storage: sqlite:///wk.db\n"
            f"notify:\n{routes}"
            f"maintenance:\n  - {window}\n"
            f"status_pages:\n  - {{path: /status, title: {title}, "
            "components: [{name: Web, monitors: [api]}]}\n"
            "defaults: {interval: 1h}\nmonitors:\n" + monitor(web, "api")
        )

    same = '  - {name: same, webhook: "http://127.0.0.1:9/same"}\n'
    first = config(
        same + '  - {name: moved, webhook: "http://127.0.0.1:9/a"}\n'
        '  - {name: dropped, webhook: "http://127.0.0.1:9/b"}\n',
        "Acme",
        '{name: upgrade, start: "2030-01-01T02:00:00", duration: 2h}',
    )
    async with Site(first, tmp_path) as site, site.client() as anyone:
        alerting = site.engine.alerting
        kept, moved = alerting.notifiers["same"], alerting.notifiers["moved"]
        second = config(
            '  - {name: moved, webhook: "http://127.0.0.1:9/c"}\n'
            + same
            + '  - {name: new, webhook: "http://127.0.0.1:9/d"}\n',
            "Acme Inc",
            '{name: upgrade, start: "2031-01-01T02:00:00", duration: 2h}',
        )
        outcome = await reload(site, second)
        assert outcome.changes.lines() == [
            "routes: +new, -dropped, ~moved (webhook)",
            "status pages: ~/status (title)",
            "maintenance: ~upgrade (start, end)",
        ]
        assert set(alerting.notifiers) == {"moved", "same", "new"}
        assert alerting.notifiers["same"] is kept
        assert alerting.notifiers["moved"] is not moved
        assert [w.start for w in alerting.config.maintenance] == [
            site.engine.config.maintenance[0].start
        ]
        async with anyone.get("/status") as page:
            assert "Acme Inc" in await page.text()


async def test_api_monitors_are_untouched_and_a_renamed_heartbeat_keeps_its_uuid(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    text = (
        HEAD
        + monitor(web, "api")
        + f'  - {{name: backup, heartbeat: {{period: 1d, uuid: "{NIGHTLY}"}}}}\n'
    )
    async with Site(text, tmp_path) as site, site.client(site.token("write")) as api:
        spec = {"name": "defined", "http": web.url("/health?m=defined"), "interval": "1h"}
        status, _ = await call(api, "POST", "/api/v1/monitors", json=spec)
        assert status == 201
        await until(lambda: hits(web, "defined"))
        scheduler = site.engine.scheduler
        assert scheduler is not None
        defined_next, defined_status = scheduler.next_run("defined"), site.engine.status["defined"]

        renamed = text.replace("name: backup,", "name: nightly-backup,")
        outcome = await reload(site, renamed)
        assert outcome.changes.monitors.added == ("nightly-backup",)
        assert outcome.changes.monitors.removed == ("backup",)
        assert scheduler.next_run("defined") == defined_next
        assert site.engine.status["defined"] is defined_status
        assert hits(web, "defined") == 1
        async with (
            aiohttp.ClientSession() as anyone,
            anyone.get(f"{site.url}/ping/{NIGHTLY}") as answer,
        ):
            assert answer.status == 200, await answer.text()
        assert site.engine.heartbeats.registry.by_uuid[NIGHTLY] == "nightly-backup"
        status, listed = await call(api, "GET", "/api/v1/monitors")
        sources = {m["name"]: m["source"] for m in listed["items"]}
        assert sources == {"api": "config", "nightly-backup": "config", "defined": "api"}


async def test_reloads_one_at_a_time_each_against_what_the_last_one_left(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    async with Site(HEAD + monitor(web, "api"), tmp_path) as site:
        (tmp_path / "watchkeeper.yaml").write_text(HEAD + monitor(web, "api") + monitor(web, "b"))
        first, second = await asyncio.gather(
            site.reloader.reload("one"), site.reloader.reload("two")
        )
        assert first.changes.monitors.added == ("b",)
        assert not second.changes, "the second found b already watched"
        assert first.finished_at <= second.started_at


async def test_settings_that_need_a_restart_are_reported_and_keep_their_running_values(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    async with Site(HEAD + monitor(web, "api"), tmp_path) as site:
        running: Config = site.engine.config
        changed = HEAD.replace("sqlite:///wk.db", "sqlite:///other.db") + monitor(web, "api")
        changed = "server: {listen: 127.0.0.1:9999}\nretention: {raw: 3d}\n" + changed
        outcome = await reload(site, changed)
        assert outcome.changes.restart == ("storage", "server.listen")
        assert outcome.changes.settings == ("retention",)
        assert site.engine.config.storage == running.storage
        assert site.engine.config.server.listen == running.server.listen
        assert site.engine.config.retention.raw == 3 * 86400
        assert outcome.lines()[-1] == (
            "  needs a restart (running values kept): storage, server.listen"
        )


async def test_the_reload_endpoint_needs_write_access_and_answers_with_the_outcome(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    async with Site(HEAD + monitor(web, "api"), tmp_path) as site:
        (tmp_path / "watchkeeper.yaml").write_text(HEAD + monitor(web, "api") + monitor(web, "b"))
        async with site.client() as anyone:
            status, _ = await call(anyone, "POST", "/api/v1/reload")
            assert status == 401
        async with site.client(site.token("read")) as reader:
            status, _ = await call(reader, "POST", "/api/v1/reload")
            assert status == 403
        assert "b" not in site.engine.monitors
        async with site.client(site.token("write")) as writer:
            status, body = await call(writer, "POST", "/api/v1/reload")
            assert status == 200, body
            assert body["ok"] and body["changes"]["monitors"]["added"] == ["b"]
            (tmp_path / "watchkeeper.yaml").write_text("monitors:\n  - {name: c}\n")
            status, body = await call(writer, "POST", "/api/v1/reload")
            assert status == 422
            assert body["errors"] == [
                f"{tmp_path / 'watchkeeper.yaml'}:2: monitor 'c': no check kind: add one of "
                + body["errors"][0].split("add one of ", 1)[1]
            ]
        assert "b" in site.engine.monitors
