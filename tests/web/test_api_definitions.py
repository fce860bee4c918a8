"""Monitors defined through the API against the real app on a real port: a heartbeat UUID
another monitor has is refused before anything is stored, and a stored definition that no
longer holds is shown as broken, never fatal, and can be mended or removed."""

from __future__ import annotations

import html
import time
from pathlib import Path

import sqlalchemy as sa
from tests.helpers.site import Site
from tests.web.test_api import call

from watchkeeper.store import Store, definitions, schema

NIGHTLY = "6f9b8a52-3c1e-4d7e-9a55-1d2b3c4d5e6f"
OTHER = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
CONFIG = f"""
storage: sqlite:///wk.db
notify:
  - {{name: ops, webhook: "http://127.0.0.1:9/hook"}}
monitors:
  - {{name: nightly, heartbeat: {{period: 1d, uuid: "{NIGHTLY}"}}}}
  - {{name: hourly, heartbeat: {{period: 1h}}}}
"""


def stored(store: Store) -> tuple[list[str], set[str], dict[str, str]]:
    """API definitions, monitor rows and ping UUIDs (uuid → monitor) in the store."""
    beats, monitors = schema.heartbeats, schema.monitors
    with store.read() as connection:
        names = list(connection.scalars(sa.select(schema.api_monitors.c.name)))
        rows = set(connection.scalars(sa.select(monitors.c.name)))
        uuids = connection.execute(
            sa.select(beats.c.uuid, monitors.c.name).join(
                monitors, monitors.c.id == beats.c.monitor_id
            )
        )
        return names, rows, {str(uuid): str(name) for uuid, name in uuids}


async def test_a_heartbeat_uuid_another_monitor_has_is_refused_with_409_and_nothing_is_kept(
    tmp_path: Path,
) -> None:
    async with Site(CONFIG, tmp_path) as site, site.client(site.token("write")) as api:
        before = stored(site.store)
        hourly = next(u for u, name in before[2].items() if name == "hourly")  # made at start
        for uuid, holder in ((NIGHTLY, "nightly"), (hourly.upper(), "hourly")):
            spec = {"name": "copy", "heartbeat": {"period": "1h", "uuid": uuid}}
            for method, path in (("POST", "/api/v1/monitors"), ("PUT", "/api/v1/monitors/copy")):
                status, body = await call(api, method, path, json=spec)
                assert status == 409, (method, body)
                assert body["detail"] == (
                    f"heartbeat uuid {uuid.lower()} is already used by monitor '{holder}'"
                )
        assert stored(site.store) == before, "no definition, monitor row or uuid was kept"

        own = {"name": "own", "heartbeat": {"period": "1h", "uuid": OTHER}}
        status, _ = await call(api, "POST", "/api/v1/monitors", json=own)
        assert status == 201
        status, body = await call(
            api,
            "PUT",
            "/api/v1/monitors/own",
            json={**own, "heartbeat": {"period": "1h", "uuid": NIGHTLY}},
        )
        assert status == 409 and "monitor 'nightly'" in body["detail"], body
        async with site.client() as anyone, anyone.get(f"/ping/{OTHER}") as ping:
            assert ping.status == 200, "own keeps its uuid"
        assert stored(site.store)[2][OTHER] == "own"
    async with Site(CONFIG, tmp_path) as again:
        assert "own" in again.engine.monitors, "and a restart finds everything as it was"


def clashing_and_stale(store: Store) -> None:
    """What an older Watchkeeper could leave behind: a definition whose heartbeat uuid is a
    config monitor's, one naming a route removed since, one whose spec is not JSON, and a good
    one."""
    now = time.time()
    specs = {
        "copy": {"name": "copy", "heartbeat": {"period": "1h", "uuid": NIGHTLY}},
        "paged": {"name": "paged", "tcp": "127.0.0.1:9", "notify": ["pager"]},
        "fine": {"name": "fine", "tcp": "127.0.0.1:9", "interval": "1h", "timeout": "1s"},
    }
    with store.transaction() as connection:
        for name, spec in specs.items():
            definitions.put_api_monitor(connection, name, spec, "ann", now)
        connection.execute(
            schema.api_monitors.insert().values(
                name="garbled", spec="{not json", created_at=now, updated_at=now
            )
        )
    store.ensure_monitors([("copy", "heartbeat", "")])  # as the old bug committed it


async def test_a_broken_stored_definition_is_shown_and_can_be_removed_or_mended(
    tmp_path: Path,
) -> None:
    site = Site(CONFIG, tmp_path, seed=clashing_and_stale, broken_allowed=True)
    async with site, site.client(site.token("write")) as api:
        assert set(site.engine.monitors) == {"nightly", "hourly", "fine"}
        _, listed = await call(api, "GET", "/api/v1/monitors")
        assert {m["name"] for m in listed["items"]} == {"nightly", "hourly", "fine"}
        broken = {b["name"]: b for b in listed["broken"]}
        assert broken["copy"]["reason"] == (
            f"heartbeat uuid {NIGHTLY} is already used by monitor 'nightly'"
        )
        assert broken["copy"]["kind"] == "heartbeat"
        assert "notify route 'pager' is not defined" in broken["paged"]["reason"]
        assert broken["garbled"]["reason"].startswith("its stored spec is not JSON")
        status, body = await call(api, "GET", "/api/v1/monitors/copy")
        assert status == 404 and body["detail"].startswith(
            "monitor 'copy' is not watched: its stored definition is broken (heartbeat uuid"
        )
        status, body = await call(api, "POST", "/api/v1/monitors", json={"name": "paged"})
        assert status == 409 and "its stored definition is broken" in body["detail"]

        admin, csrf = await site.login()
        async with admin:
            async with admin.get("/") as page:
                text = html.unescape(await page.text())
            assert "Not watched: 3 monitors defined through the API have a broken" in text
            assert "monitor 'nightly'" in text and "its stored spec is not JSON" in text
            async with admin.post(
                "/definitions/garbled/delete", data={"csrf": csrf}, allow_redirects=False
            ) as removed:
                assert removed.status == 303
                assert "kind=ok" in removed.headers["Location"]

        status, _ = await call(api, "DELETE", "/api/v1/monitors/copy")
        assert status == 204
        mended = {"name": "paged", "tcp": "127.0.0.1:9", "notify": ["ops"]}
        status, body = await call(api, "PUT", "/api/v1/monitors/paged", json=mended)
        assert status == 200 and body["notify"] == ["ops"], body
        _, listed = await call(api, "GET", "/api/v1/monitors")
        assert listed["broken"] == []
        assert "paged" in {m["name"] for m in listed["items"]}
        assert set(stored(site.store)[0]) == {"paged", "fine"}
    async with Site(CONFIG, tmp_path) as again:  # (fails on any definition left out)
        assert {"paged", "fine"} <= set(again.engine.monitors)
