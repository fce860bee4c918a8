"""``wk agent`` as a user runs it (a subprocess), against a stand-in node in this process
(tests/helpers/agent_node.py: it stands in for a node only to refuse the agent or take its
pushes): refusals and bad options end in one line and exit 2; SIGTERM ends in exit 0 with
the last results pushed."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from tests.helpers.agent_node import StandInNode
from tests.helpers.cli import WK, wk
from tests.helpers.switchable import SwitchableTarget

from watchkeeper.cluster.wire import PROTOCOL


def agent_args(node: StandInNode, folder: Path, *more: str) -> list[str]:
    return ["agent", "--server", node.url, "--buffer", str(folder / "buffer"), *more]


async def test_a_token_that_is_not_an_agent_token_exits_2_with_one_line(tmp_path: Path) -> None:
    async with StandInNode([]) as node:
        node.other_tokens.add("write-token")
        done = await wk(*agent_args(node, tmp_path, "--token", "write-token"), timeout=30)
    assert done.code == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last == "the node refused this token (403): not an agent token"
    assert "Traceback" not in done.stderr


async def test_a_protocol_mismatch_exits_2_with_the_nodes_reason(tmp_path: Path) -> None:
    async with StandInNode([]) as node:
        node.protocol = PROTOCOL + 1
        done = await wk(*agent_args(node, tmp_path), env={"WK_AGENT_TOKEN": node.token}, timeout=30)
    assert done.code == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"the node refused this agent (409): agent protocol {PROTOCOL + 1} here, update the agent"
    )
    assert "Traceback" not in done.stderr


async def test_a_token_of_another_location_exits_2(tmp_path: Path) -> None:
    async with StandInNode([], location="us-east") as node:
        done = await wk(
            *agent_args(node, tmp_path, "--token", node.token, "--location", "eu-west"),
            timeout=30,
        )
    assert done.code == 2
    assert "'us-east', not 'eu-west'" in done.stderr.strip().splitlines()[-1]


async def test_bad_options_exit_2_with_one_line(tmp_path: Path) -> None:
    async with StandInNode([]) as node:
        cases = {
            ("--token", "t", "--buffer-size", "lots"): "--buffer-size: bad size 'lots'",
            ("--token", "t", "--push-every", "5"): "--push-every: bad duration '5'",
            ("--token", "t", "--ca", str(tmp_path / "none.pem")): "--ca ",
            ("--token", "t", "--concurrency", "0"): "--concurrency 0: at least 1",
            (): "--token is required",
        }
        for extra, expected in cases.items():
            done = await wk(*agent_args(node, tmp_path, *extra), timeout=30)
            assert done.code == 2, (extra, done.stderr)
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1, (extra, lines)
            assert lines[0].startswith(expected), (extra, lines)
        assert node.fetches == 0  # refused before any request


async def test_sigterm_pushes_the_last_results_and_exits_0(tmp_path: Path) -> None:
    async with SwitchableTarget() as target, StandInNode([], push_every=0.2) as node:
        node.monitors = [
            {"name": "api", "http": target.url("/api"), "interval": "100ms", "timeout": "90ms"}
        ]
        process = await asyncio.create_subprocess_exec(
            *WK,
            *agent_args(node, tmp_path, "--token", node.token, "--name", "probe-9"),
            env={**os.environ},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while len(node.results) < 3:
                assert asyncio.get_running_loop().time() < deadline, "no results pushed"
                await asyncio.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), 30)
    log = err.decode()
    assert process.returncode == 0, log
    last = node.pushes[-1]["agent"]
    assert last["name"] == "probe-9"
    # every result made was pushed, the last ones by the final push
    assert f"stopped: {len(node.results)} made, {len(node.results)} pushed" in log
    assert "Traceback" not in log
