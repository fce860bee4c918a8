"""The real ``toxiproxy-node-client`` (npm, tests/oracles/toxiproxy-node) drives the fault proxy
unchanged: proxies created, listed, disabled, populated, reset and removed; every toxic type
added, read back and removed; a latency toxic measured on traffic from Node."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

from tests.chaos.conftest import EchoServer

from watchkeeper.chaos.api import ChaosServer
from watchkeeper.chaos.toxics import EFFECTS

ORACLE = Path(__file__).parents[1] / "oracles" / "toxiproxy-node"
SCRIPT = ORACLE / "drive.js"


async def _drive(api: str, echo_port: int) -> dict[str, object]:
    node = shutil.which("node")
    assert node is not None, "Node is missing: apt-get install nodejs (see .ci/run)"
    assert (ORACLE / "node_modules" / "toxiproxy-node-client").is_dir(), (
        f"the client is missing: npm ci --ignore-scripts --prefix {ORACLE}"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("NODE_")}
    process = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), api, str(echo_port),
        cwd=ORACLE, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    seen: dict[str, object] = json.loads(stdout)
    return seen


async def test_the_node_client_drives_the_proxy_unchanged(
    chaos: ChaosServer, echo: EchoServer
) -> None:
    seen = await _drive(chaos.url, echo.port)

    assert str(seen["version"]).startswith('{"version": "watchkeeper-')
    created = seen["created"]
    assert isinstance(created, dict) and created["enabled"] is True
    assert created["upstream"] == f"127.0.0.1:{echo.port}"
    assert "409" in str(seen["duplicate"])
    assert seen["names"] == ["node"]

    toxics = seen["toxics"]
    assert isinstance(toxics, dict) and sorted(toxics) == sorted(EFFECTS)
    for kind, pair in toxics.items():
        assert pair["added"] == pair["fetched"], kind
        assert pair["added"]["type"] == kind and pair["added"]["stream"] == "upstream"
    assert toxics["slicer"]["added"]["attributes"] == {
        "average_size": 10,
        "size_variation": 2,
        "delay": 5,
    }
    assert "404" in str(seen["removed"])

    latency = seen["latency"]
    assert isinstance(latency, dict)
    assert 0.090 <= latency["slowed"] - latency["baseline"] <= 0.110, latency
    assert seen["updated"] == {
        "name": "slow",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1,
        "attributes": {"latency": 0, "jitter": 0},
    }

    disabled = seen["disabled"]
    assert isinstance(disabled, dict) and disabled["enabled"] is False
    assert seen["refused"] == "ECONNREFUSED"
    assert seen["populated"] == ["node", "node2"]
    after = seen["afterReset"]
    assert isinstance(after, dict) and after["enabled"] is True
    assert "404" in str(seen["missing"])
    assert seen["finalNames"] == []
