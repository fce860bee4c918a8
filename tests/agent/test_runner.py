"""The agent end to end, in-process: it checks a real target with the engine's Scheduler and
pushes to a stand-in node (tests/helpers/agent_node.py — a stand-in only for what a real
node does on no command: vanish and come back, refuse batches, change the assignment)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.agent_node import StandInNode
from tests.helpers.switchable import SwitchableTarget

from watchkeeper.agent.client import Refused
from watchkeeper.agent.runner import Agent, AgentSettings, Link


def monitor(name: str, target: SwitchableTarget) -> dict[str, Any]:
    return {
        "name": name,
        "http": target.url(f"/{name}"),
        "interval": "100ms",
        "timeout": "90ms",
        "expect": ["status == 200"],
        "locations": ["local", "eu-west"],
    }


def settings(node: StandInNode, folder: Path, **changes: Any) -> AgentSettings:
    values: dict[str, Any] = {
        "server": node.url,
        "token": node.token,
        "name": "probe-1",
        "location": "eu-west",
        "buffer": folder,
        "buffer_size": 10_000_000,
        "backoff_first": 0.05,
        "backoff_limit": 0.2,
    }
    return AgentSettings(**{**values, **changes})


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for ``condition`` (a deadline against a hang, not a timing claim)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)


class Running:
    """An Agent run as a task; stopped (SIGTERM's path) on exit."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Agent:
        self.task = asyncio.create_task(self.agent.run())
        return self.agent

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.task is not None
        self.agent.stop()
        await asyncio.wait_for(self.task, 10)


async def test_it_buffers_while_the_node_is_gone_and_delivers_everything_in_order(
    tmp_path: Path,
) -> None:
    async with SwitchableTarget() as target:
        node = await StandInNode([monitor("api", target)], push_every=0.1).start()
        agent = Agent(settings(node, tmp_path / "buffer"))
        try:
            async with Running(agent):
                await until(lambda: len(node.results) >= 3)
                await node.stop()
                await until(lambda: agent.buffer is not None and agent.buffer.buffered >= 10)
                assert agent.link is Link.AWAY
                back_at = time.time()
                await node.start()
                await until(lambda: agent.buffer is not None and agent.buffer.buffered == 0)
                await until(lambda: any(p["sent_at"] > back_at + 0.3 for p in node.pushes))
        finally:
            await node.stop()
    assert agent.buffer is not None
    counters = agent.buffer.counters
    started = [r["started_at"] for r in node.results]
    assert started == sorted(started)  # in order, buffered ones included
    assert len(set(started)) == len(started)  # none twice
    assert counters.checks == counters.pushed == len(started)  # none lost (the last push too)
    assert counters.dropped == 0
    assert all(r["monitor"] == "api" and r["ok"] for r in node.results)
    # the buffered results came with a fresh sent_at: the node's clock correction holds
    first_after = next(p for p in node.pushes if p["sent_at"] >= back_at)
    assert first_after["results"]
    assert first_after["results"][0]["started_at"] < back_at
    assert all(p["sent_at"] >= max((r["started_at"] for r in p["results"]), default=0)
               for p in node.pushes)  # fmt: skip
    assert node.pushes[-1]["agent"]["name"] == "probe-1"


async def test_it_beats_with_nothing_to_push(tmp_path: Path) -> None:
    async with StandInNode([], push_every=0.05) as node, Running(Agent(settings(node, tmp_path))):
        await until(lambda: len(node.pushes) >= 3)
    assert all(p["results"] == [] for p in node.pushes)
    assert {p["agent"]["checks"] for p in node.pushes} == {0}


async def test_it_follows_a_changed_assignment(tmp_path: Path) -> None:
    async with (
        SwitchableTarget() as target,
        StandInNode([monitor("api", target)], push_every=0.05) as node,
        Running(Agent(settings(node, tmp_path))) as agent,
    ):
        await until(lambda: any(r["monitor"] == "api" for r in node.results))
        node.monitors = [monitor("web", target)]  # a new version: the next push answer says
        await until(lambda: agent.monitors == ["web"])
        api_hits = target.hits.get("api", 0)
        await until(lambda: target.hits.get("web", 0) >= 3)
        await until(lambda: any(r["monitor"] == "web" for r in node.results))
        assert target.hits.get("api", 0) <= api_hits + 1  # removed: at most the run in flight
    assert node.fetches >= 2


async def test_a_batch_the_node_refuses_is_dropped_and_counted(tmp_path: Path) -> None:
    async with (
        SwitchableTarget() as target,
        StandInNode([monitor("api", target)], push_every=0.05) as node,
    ):
        agent = Agent(settings(node, tmp_path))
        async with Running(agent):
            await until(lambda: len(node.results) >= 1)
            node.results_status = 413
            await until(lambda: agent.buffer is not None and agent.buffer.counters.dropped >= 3)
            assert agent.link is Link.CONNECTED
    assert agent.buffer is not None
    assert agent.buffer.buffered == 0  # dropped, not kept to fail again


async def test_a_token_of_another_location_stops_it(tmp_path: Path) -> None:
    async with StandInNode([], location="us-east") as node:
        agent = Agent(settings(node, tmp_path))
        with pytest.raises(Refused, match="'us-east', not 'eu-west'"):
            await asyncio.wait_for(agent.run(), 10)


async def test_an_unknown_token_is_retried_until_the_node_knows_it(tmp_path: Path) -> None:
    async with StandInNode([], push_every=0.05) as node:
        node.token = "not-yet"  # the node does not know the agent's token (401)
        agent = Agent(settings(node, tmp_path, token="agent-token"))
        async with Running(agent):
            await until(lambda: node.fetches >= 3)
            assert agent.link is Link.UNAUTHORIZED
            node.token = "agent-token"  # e.g. the token was created after the agent started
            await until(lambda: len(node.pushes) >= 2)
            assert agent.link is Link.CONNECTED
