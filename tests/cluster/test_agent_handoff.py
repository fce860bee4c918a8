"""Two real ``wk up`` nodes on one PostgreSQL store: an agent's results pushed to the node
that does not hold the monitor reach the one that does (through the store's inbox), which
judges them with its own check's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from tests.helpers.cli import Running, wk
from tests.helpers.postgres import throwaway_database
from tests.helpers.servers import WebServer, ok_site

pytestmark = pytest.mark.postgres


@pytest.fixture
async def target() -> AsyncIterator[WebServer]:
    async with ok_site() as server:
        yield server


def _holder(database: str) -> str | None:
    """The name of the node holding monitor ``api``."""
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database}") as c:
        row = c.execute(
            "select n.name from cluster_leases l join cluster_nodes n on n.node = l.node"
            " where l.monitor = 'api'"
        ).fetchone()
    return None if row is None else str(row[0])


async def _push(node: Running, token: str, ok: bool) -> dict[str, Any]:
    now = time.time()
    body = {
        "protocol": 1,
        "sent_at": now,
        "agent": {"name": "probe"},
        "results": [
            {"monitor": "api", "started_at": now, "ok": ok,
             "error": None if ok else "connection refused", "phases": {"total": 3.0}}
        ],
    }  # fmt: skip
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.post(node.url + "/api/v1/agent/results", json=body) as response,
    ):
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def test_a_result_pushed_to_the_other_node_is_judged_by_the_holder(
    tmp_path: Path, target: WebServer
) -> None:
    with throwaway_database("wk_handoff") as database:
        nodes: dict[str, Running] = {}
        for name in ("a", "b"):
            path = tmp_path / f"{name}.yaml"
            path.write_text(
                f"""storage: postgresql://postgres@127.0.0.1:5432/{database}
engine: {{startup_spread: 0.2s}}
cluster: {{enabled: true, name: {name}, beat: 0.5s, ttl: 3s}}
monitors:
  - {{name: api, http: "{target.url("/")}", interval: 1s, timeout: 1s, confirm: 1,
      recover: 1, locations: [local, eu-west], quorum: 1}}
"""
            )
            nodes[name] = Running("-c", str(path), cwd=tmp_path)
        for node in nodes.values():
            await node.start()
        try:
            holder = None
            for _ in range(100):
                holder = await asyncio.to_thread(_holder, database)
                if holder is not None:
                    break
                await asyncio.sleep(0.1)
            assert holder in nodes
            other = nodes["b" if holder == "a" else "a"]
            made = await wk(
                "token", "create", "--scope", "agent", "--location", "eu-west", "--json",
                "-c", str(tmp_path / "a.yaml"),
            )  # fmt: skip
            token = made.json()["token"]
            state = "unknown"
            for _ in range(60):  # a failing eu-west alone is enough (quorum 1)
                answer = await _push(other, token, ok=False)
                assert answer["accepted"] == 1
                state = (await nodes[holder].get("/api/v1/monitors/api"))["state"]
                if state == "down":
                    break
                await asyncio.sleep(0.25)
            assert state == "down"
            found = await nodes[holder].get("/api/v1/monitors/api")
            assert "failing from eu-west" in found["reason"]
            assert {loc["location"] for loc in found["locations"]} == {"local", "eu-west"}
            for _ in range(60):  # and back, the same way
                await _push(other, token, ok=True)
                state = (await nodes[holder].get("/api/v1/monitors/api"))["state"]
                if state == "up":
                    break
                await asyncio.sleep(0.25)
            assert state == "up"
        finally:
            for node in nodes.values():
                await node.stop()
