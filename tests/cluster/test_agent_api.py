"""The agents' API of a real ``wk up``: an agent's token (scope ``agent:<location>``) reads
its location's assignment and pushes results, and nothing else; pushed results are judged
with the node's own by the quorum; hostile pushes are refused with a clear status."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.helpers.cli import Running, wk
from tests.helpers.servers import WebServer, ok_site


@pytest.fixture
async def target() -> AsyncIterator[WebServer]:
    async with ok_site() as server:
        yield server


async def _agent_token(node: Running, location: str) -> str:
    made = await wk(
        "token", "create", "--scope", "agent", "--location", location, "--json",
        "-c", str(node.config), env=node.env,
    )  # fmt: skip
    assert made.code == 0, made.stderr
    assert made.json()["scope"] == f"agent:{location}"
    token: str = made.json()["token"]
    return token


async def _call(
    node: Running, token: str, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "X-Watchkeeper-Agent": "probe-1"}
    headers.update(kwargs.pop("headers", {}))
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.request(method, node.url + path, **kwargs) as response,
    ):
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


def _push(results: list[dict[str, Any]], sent_at: float) -> dict[str, Any]:
    return {
        "protocol": 1,
        "sent_at": sent_at,
        "agent": {"name": "probe-1", "checks": len(results), "buffered": 7, "dropped": 3},
        "results": results,
    }


def _result(ok: bool, at: float, error: str | None = None) -> dict[str, Any]:
    return {
        "monitor": "api",
        "started_at": at,
        "ok": ok,
        "error": error,
        "phases": {"total": 12.5},
        "status": 200 if ok else None,
    }


async def _state(node: Running) -> dict[str, Any]:
    found: dict[str, Any] = await node.get("/api/v1/monitors/api")
    return found


async def _until(node: Running, wanted: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await _state(node)
        if found["state"] == wanted or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_an_agent_reads_its_assignment_pushes_results_and_nothing_else(
    tmp_path: Path, target: WebServer
) -> None:
    (tmp_path / "watchkeeper.yaml").write_text(
        f"""storage: sqlite:///{tmp_path}/wk.db
monitors:
  - {{name: api, http: "{target.url("/")}", interval: 1s, timeout: 1s, confirm: 1,
      recover: 1, locations: [local, eu-west, us-east], quorum: 2}}
  - {{name: here-only, http: "{target.url("/")}", interval: 1s, timeout: 1s}}
"""
    )
    node = await Running("-c", "watchkeeper.yaml", cwd=tmp_path).start()
    try:
        eu = await _agent_token(node, "eu-west")
        us = await _agent_token(node, "us-east")
        # the assignment: only the monitors of the token's location, timings resolved
        status, got = await _call(node, eu, "GET", "/api/v1/agent/assignment")
        assert status == 200, got
        assert got["location"] == "eu-west" and got["protocol"] == 1
        assert [m["name"] for m in got["monitors"]] == ["api"]
        assert got["monitors"][0]["interval"] == "1s"
        assert got["monitors"][0]["http"] == target.url("/")
        # an agent's token reaches nothing else, a person's token not the agents' routes
        for path in ("/api/v1/monitors", "/api/v1/agents", "/metrics", "/"):
            status, _ = await _call(node, eu, "GET", path)
            assert status == 403, path
        status, _ = await node.request("GET", "/api/v1/agent/assignment")
        assert status == 403
        await _until(node, "up")

        # one location failing of three: degraded, saying where from
        now = time.time()
        status, got = await _call(
            node, us, "POST", "/api/v1/agent/results",
            json=_push([_result(False, now, "connection refused")], now),
        )  # fmt: skip
        assert status == 200, got
        assert got["accepted"] == 1 and got["refused"] == []
        found = await _until(node, "degraded")
        assert found["state"] == "degraded", found
        assert "failing from us-east only: connection refused" in found["reason"]

        # a second location failing in the same window: down. Its clock is an hour off:
        # the node moves its results into its own clock.
        skew = -3600.0
        agent_now = time.time() + skew
        status, got = await _call(
            node, eu, "POST", "/api/v1/agent/results",
            json=_push([_result(False, agent_now, "timeout after 1s")], agent_now),
        )  # fmt: skip
        assert status == 200 and got["accepted"] == 1, got
        found = await _until(node, "down")
        assert found["state"] == "down", found
        assert "failing from eu-west, us-east" in found["reason"]
        where = {loc["location"]: loc for loc in found["locations"]}
        assert where["eu-west"]["available"] and not where["eu-west"]["ok"]
        assert abs(where["eu-west"]["at"] - time.time()) < 60  # not an hour ago
        status, metrics = await node.request("GET", "/metrics")
        assert status == 200
        assert 'watchkeeper_location_check_success{location="eu-west",monitor="api"} 0.0' in (
            metrics
        )
        assert 'watchkeeper_location_available{location="us-east",monitor="api"} 1.0' in metrics
        status, page = await node.request("GET", "/monitors/api")
        assert status == 200 and 'id="locations"' in page
        assert "down when 2 of 3 fail at once" in page and "eu-west" in page

        # the location's results are kept as its own series, and the agents are listed
        agents = await node.get("/api/v1/agents")
        by_location = {a["location"]: a for a in agents["agents"]}
        assert by_location["eu-west"]["name"] == "probe-1"
        assert by_location["eu-west"]["buffered"] == 7 and by_location["eu-west"]["dropped"] == 3
        assert abs(by_location["eu-west"]["clock_offset_s"] - 3600) < 60
        status, page = await node.request("GET", "/nodes")
        assert status == 200 and "probe-1" in page and "single node" in page
        listed = await node.get("/api/v1/nodes")
        assert listed["nodes"] == [] and listed["agents"][0]["name"] == "probe-1"
        assert {loc["location"]: loc["available"] for loc in agents["locations"]} == {
            "eu-west": True,
            "us-east": True,
        }

        # refused: a monitor not checked from there, a malformed result, another protocol
        now = time.time()
        bad = {**_result(True, now), "ok": "yes"}
        other = {**_result(True, now), "monitor": "here-only"}
        status, got = await _call(
            node, eu, "POST", "/api/v1/agent/results", json=_push([bad, other], now)
        )
        assert status == 200 and got["accepted"] == 0
        assert {r["monitor"]: r["reason"] for r in got["refused"]} == {
            "api": "ok must be true or false",
            "here-only": "not checked from eu-west",
        }
        status, got = await _call(
            node, eu, "POST", "/api/v1/agent/results",
            json={**_push([], now), "protocol": 2},
        )  # fmt: skip
        assert status == 409 and "protocol 1" in got["detail"]
        status, _ = await _call(
            node, eu, "GET", "/api/v1/agent/assignment",
            headers={"X-Watchkeeper-Protocol": "7"},
        )  # fmt: skip
        assert status == 409
        # a gzip bomb and an oversized body: 413, and the node goes on
        bomb = gzip.compress(b"[" + b" " * (8 * 1024 * 1024) + b"]")
        status, _ = await _call(
            node, eu, "POST", "/api/v1/agent/results",
            data=io.BytesIO(bomb),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )  # fmt: skip
        assert status == 413
        status, _ = await _call(
            node, eu, "POST", "/api/v1/agent/results", data=io.BytesIO(b"x" * (5 << 20))
        )
        assert status == 413
        status, _ = await _call(node, eu, "POST", "/api/v1/agent/results", data=b"{nope")
        assert status == 400

        # revoked: refused at once
        listed = await wk("token", "list", "--json", "-c", str(node.config), env=node.env)
        eu_id = next(t["id"] for t in listed.json() if t["scope"] == "agent:eu-west")
        revoked = await wk("token", "revoke", str(eu_id), "-c", str(node.config), env=node.env)
        assert revoked.code == 0, revoked.stderr
        for _ in range(30):  # a node caches a token's lookup for 10 s
            status, _ = await _call(node, eu, "GET", "/api/v1/agent/assignment")
            if status == 401:
                break
            await asyncio.sleep(1)
        assert status == 401
    finally:
        await node.stop()
    results = await wk("history", "api", "--json", "-c", "watchkeeper.yaml", cwd=tmp_path)
    assert results.code == 0, results.stderr


async def test_an_agent_token_needs_a_location(tmp_path: Path) -> None:
    (tmp_path / "watchkeeper.yaml").write_text(f"storage: sqlite:///{tmp_path}/wk.db\n")
    made = await wk("token", "create", "--scope", "agent", cwd=tmp_path)
    assert made.code == 2 and "--location" in made.stderr
    made = await wk("token", "create", "--scope", "agent", "--location", "local", cwd=tmp_path)
    assert made.code == 2 and "local" in made.stderr
    made = await wk("token", "create", "--scope", "agent", "--location", "EU West", cwd=tmp_path)
    assert made.code == 2 and "not valid" in made.stderr
    assert "Traceback" not in made.stderr
