"""``wk up`` on a store an older Watchkeeper left in a bad way (a monitor defined through the
API whose heartbeat uuid is a config monitor's, one that no longer validates, a ping uuid still
held by a monitor since renamed): it starts, watches everything else, says what it left out
once, and ``wk status`` and the API show it as broken until it is deleted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from tests.e2e.conftest import write
from tests.e2e.test_up import wait_for
from tests.helpers.cli import Running, wk
from tests.helpers.web_app import ProbeTargetServer

from watchkeeper.config import load_config
from watchkeeper.store import Store, definitions, schema

NIGHTLY = "6f9b8a52-3c1e-4d7e-9a55-1d2b3c4d5e6f"
RENAMED = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"


def config_text(web: ProbeTargetServer) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 200ms, timeout: 190ms, confirm: 1, recover: 1}}
monitors:
  - {{name: api, http: "{web.url("/health")}"}}
  - {{name: nightly, heartbeat: {{period: 1d, uuid: "{NIGHTLY}"}}}}
  - {{name: backup, heartbeat: {{period: 1d, uuid: "{RENAMED}"}}}}
"""


def leave_a_bad_store(config: Path) -> None:
    """Written straight into the tables, as the old bug and a rename left them."""
    store = Store.open(load_config(config, env={}).storage)
    try:
        now = time.time()
        with store.transaction() as connection:
            definitions.put_api_monitor(
                connection,
                "copy",
                {"name": "copy", "heartbeat": {"period": "1h", "uuid": NIGHTLY}},
                "ann",
                now,
            )
            definitions.put_api_monitor(
                connection,
                "stale",
                {"name": "stale", "tcp": "x:1", "depends_on": ["gone"]},
                None,
                now,
            )
        ids = store.ensure_monitors([("copy", "heartbeat", ""), ("old-backup", "heartbeat", "")])
        with store.transaction() as connection:  # the monitor 'backup' was called 'old-backup'
            connection.execute(
                schema.heartbeats.insert().values(
                    monitor_id=ids["old-backup"], uuid=RENAMED, created_at=now
                )
            )
    finally:
        store.close()


async def test_up_starts_on_a_store_with_broken_definitions_and_shows_them(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    config = write(tmp_path / "wk.yaml", config_text(web))
    await asyncio.to_thread(leave_a_bad_store, config)
    running = await Running("-c", str(config)).start()
    try:
        await wait_for(running, lambda m: m["api"]["state"] == "up")
        listed = await running.get("/api/v1/monitors")
        broken = {b["name"]: b["reason"] for b in listed["broken"]}
        assert broken == {
            "copy": f"heartbeat uuid {NIGHTLY} is already used by monitor 'nightly'",
            "stale": "monitor 'stale': depends_on 'gone' is not defined",
        }
        async with aiohttp.ClientSession() as anyone:
            for uuid in (NIGHTLY, RENAMED):  # 'backup' took its uuid over from 'old-backup'
                async with anyone.get(f"{running.url}/ping/{uuid}") as ping:
                    assert ping.status == 200, uuid

        status = await wk("status", "-c", str(config), "--json")
        assert status.code == 0, status.stderr
        rows = {row["monitor"]: row for row in status.json()}
        assert rows["copy"]["state"] == "broken" and rows["copy"]["source"] == "api"
        assert rows["copy"]["reason"] == f"not watched: {broken['copy']}"
        assert rows["stale"]["state"] == "broken" and rows["api"]["state"] == "up"
        table = await wk("status", "-c", str(config))
        assert "broken" in table.stdout and "not watched: heartbeat uuid" in table.stdout

        code, _ = await running.request("DELETE", "/api/v1/monitors/copy")
        assert code == 204
        listed = await running.get("/api/v1/monitors")
        assert [b["name"] for b in listed["broken"]] == ["stale"]
    finally:
        code = await running.stop()
    assert code == 0, running.stderr
    assert "Traceback" not in running.stderr + running.stdout
    assert running.stdout.count("skipping monitor 'copy' defined through the API") == 1
    status = await wk("status", "-c", str(config), "--json")
    assert [row["monitor"] for row in status.json() if row["state"] == "broken"] == ["stale"]
