"""Slow name resolution for some targets never holds up the others, in the real ``wk up``
process (uvloop, where every connect once shared a small thread pool with DNS lookups)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import write
from tests.helpers.alerting import eventually
from tests.helpers.cli import Running
from tests.helpers.dns_server import DnsServer
from tests.helpers.web_app import ProbeTargetServer


@pytest.fixture
async def silent_dns() -> AsyncIterator[DnsServer]:
    async with DnsServer({}, silent=True) as server:
        yield server


async def test_names_that_never_resolve_do_not_delay_healthy_monitors(
    tmp_path: Path, web: ProbeTargetServer, silent_dns: DnsServer
) -> None:
    stuck = "\n".join(
        f"  - {{name: stuck-{i}, http: 'http://never-{i}.example.test:{web.port}/health'}}"
        for i in range(12)
    )
    config = write(
        tmp_path / "wk.yaml",
        f"""
storage: sqlite:///wk.db
engine: {{resolvers: ["{silent_dns.address}"]}}
defaults: {{interval: 200ms, timeout: 150ms, confirm: 3, recover: 1}}
monitors:
  - {{name: by-ip, http: "{web.url("/health")}", timeout: 200ms}}
  - {{name: by-hosts-file, http: "{web.url("/health", host="localhost")}", timeout: 200ms}}
{stuck}
""",
    )
    started = time.time()
    running = await Running("-c", str(config)).start()

    async def settled() -> tuple[dict[str, Any], dict[str, list[Any]]] | None:
        """Once every stuck name has timed out three times (down) and each healthy monitor
        ran 15 times beside them: the monitors and the healthy ones' results."""
        monitors = {m["name"]: m for m in (await running.get("/api/v1/monitors"))["items"]}
        if any(monitors[f"stuck-{i}"]["state"] != "down" for i in range(12)):
            return None
        healthy = {
            name: (await running.get(f"/api/v1/monitors/{name}/results?since={started}"))["items"]
            for name in ("by-ip", "by-hosts-file")
        }
        if min(len(results) for results in healthy.values()) < 15:
            return None
        return monitors, healthy

    try:
        monitors, healthy = await eventually(settled, timeout=60)
    finally:
        assert await running.stop() == 0
    assert silent_dns.queries, "the stuck names must have been asked of the silent server"
    for name in ("by-ip", "by-hosts-file"):
        assert monitors[name]["state"] == "up", monitors[name]
        results = healthy[name]
        # a loaded CI machine may stall a check or two past 200 ms; starving fails them all
        assert sum(not r["ok"] for r in results) <= len(results) // 4, results
    for i in range(12):
        stuck_monitor = monitors[f"stuck-{i}"]
        assert stuck_monitor["state"] == "down"
        assert "timeout" in stuck_monitor["reason"] and "dns" in stuck_monitor["reason"]
