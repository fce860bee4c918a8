"""One view of the truth: ``wk status``, ``wk history`` and ``wk check`` see the monitors a
running ``wk up`` was given through its API (read from the config's store, as the dashboard
does), and ``wk check`` judges a heartbeat on the pings ``wk up`` stored instead of failing it
for want of in-memory state."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from tests.e2e.conftest import write
from tests.e2e.test_up import wait_for
from tests.helpers.cli import Running, wk
from tests.helpers.web_app import ProbeTargetServer


def config_text(web: ProbeTargetServer) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 200ms, timeout: 190ms, confirm: 1, recover: 1}}
monitors:
  - {{name: api, http: "{web.url("/health")}"}}
  - {{name: nightly, heartbeat: {{period: 1d, grace: 1h}}}}
"""


async def ping(running: Running, name: str, suffix: str = "") -> None:
    url = await wk("heartbeat", "url", name, "-c", str(running.config))
    assert url.code == 0, url.stderr
    path = "/ping/" + url.stdout.splitlines()[0].split("/ping/")[1]  # wk up runs on --listen
    async with aiohttp.ClientSession() as anyone, anyone.get(running.url + path + suffix) as answer:
        assert answer.status == 200


async def test_status_history_and_check_see_monitors_defined_through_the_api(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    config = write(tmp_path / "wk.yaml", config_text(web))
    running = await Running("-c", str(config)).start()
    try:
        for spec in (
            {"name": "api-mon", "http": web.url("/health")},
            {"name": "api-beat", "heartbeat": {"period": "1h", "grace": "10m"}},
            {"name": "api-job", "heartbeat": {"period": "1h", "grace": "10m"}},
        ):
            code, body = await running.request("POST", "/api/v1/monitors", json=spec)
            assert code == 201, body
        await ping(running, "api-beat")
        await ping(running, "api-job", "/fail")
        await wait_for(
            running,
            lambda m: m["api-mon"]["state"] == "up" and m["api-job"]["state"] == "down",
        )

        status = await wk("status", "-c", str(config), "--json")
        assert status.code == 0, status.stderr
        rows = {row["monitor"]: row for row in status.json()}
        assert rows["api-mon"]["source"] == "api" and rows["api-mon"]["state"] == "up"

        history = await wk("history", "api-mon", "-c", str(config), "--json")
        assert history.code == 0, history.stderr
        assert history.json()["monitor"] == "api-mon" and history.json()["checks"] >= 1
        typo = await wk("history", "api-mno", "-c", str(config))
        assert typo.code == 2 and "no monitor named 'api-mno' (did you mean" in typo.stderr

        one = await wk("check", "-m", "api-mon", "-c", str(config), "--json")
        assert one.code == 0, one.stderr
        assert [(r["monitor"], r["ok"]) for r in one.json()] == [("api-mon", True)]

        every = await wk("check", "-c", str(config), "--json")
        assert every.code == 1, every.stderr  # api-job's run reported failure
        results = {r["monitor"]: r for r in every.json()}
        assert list(results) == ["api", "nightly", "api-mon", "api-beat", "api-job"]
        assert results["api-beat"]["ok"] and results["api-beat"]["warnings"] == []
        assert results["nightly"]["ok"], "wk up watches it: due in a day, not late"
        assert not results["api-job"]["ok"]
        assert results["api-job"]["error"].startswith("the job reported failure")
        assert "no ping state" not in every.stdout
    finally:
        code = await running.stop()
    assert code == 0, running.stderr


async def test_check_calls_a_heartbeat_passive_when_no_wk_up_stored_its_pings(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    config = write(tmp_path / "wk.yaml", config_text(web))
    completed = await wk("check", "-c", str(config), "--json")
    assert completed.code == 0, completed.stdout + completed.stderr
    results = {r["monitor"]: r for r in completed.json()}
    assert results["nightly"]["ok"] and results["nightly"]["error"] is None
    assert results["nightly"]["warnings"] == [
        "passive: no pings stored for it (wk up takes them), not judged"
    ]
    assert completed.stderr == ""
    assert not (tmp_path / "wk.db").exists(), "a check creates no store"
    table = await wk("check", "-c", str(config))
    assert table.code == 0 and "passive" in table.stdout and "2 checked, all passed" in table.stdout
