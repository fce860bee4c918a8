"""The agent's client against a real HTTP server that speaks the protocol.

The server is ``StandInNode`` (tests/helpers/agent_node.py): it stands in for a node only to
produce the failure modes a real node shows rarely — 503s, a dead port, 413, a 409 protocol
refusal, an answer slower than the client's timeout, an oversized answer. Nothing of aiohttp
is mocked.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import re
from typing import Any

import pytest
from tests.helpers.agent_node import StandInNode
from tests.helpers.servers import RawServer, RefusingPort

from watchkeeper.agent.client import (
    AgentClient,
    Away,
    Backoff,
    Refused,
    Rejected,
    Unauthorized,
    check_server,
)
from watchkeeper.cluster.wire import PROTOCOL

MONITORS = [{"name": "api", "http": "http://127.0.0.1:9/", "interval": "1s", "timeout": "1s"}]
RESULT = {
    "monitor": "api",
    "started_at": 1.0,
    "ok": True,
    "error": None,
    "failures": [],
    "warnings": [],
    "status": 200,
    "phases": {"total": 1.5},
    "metrics": {},
}
AGENT: dict[str, Any] = {"name": "probe-1", "checks": 1}


def client(url: str, token: str = "agent-token", **kwargs: Any) -> AgentClient:
    return AgentClient(url, token, "probe-1", **kwargs)


async def test_it_fetches_the_assignment_with_its_headers() -> None:
    async with StandInNode(MONITORS) as node, client(node.url, location="eu-west") as agent:
        assignment = await agent.assignment()
    assert assignment.location == "eu-west"
    assert assignment.version == node.version
    assert assignment.monitors == MONITORS
    assert assignment.push_every == node.push_every
    headers = node.headers[0]
    assert headers["Authorization"] == "Bearer agent-token"
    assert headers["X-Watchkeeper-Agent"] == "probe-1"
    assert headers["X-Watchkeeper-Protocol"] == str(PROTOCOL)
    assert headers["X-Watchkeeper-Location"] == "eu-west"


async def test_a_push_is_gzipped_and_carries_sent_at() -> None:
    seen: list[tuple[bytes, bytes]] = []  # (head, body) as they came over the wire

    async def take(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        found = re.search(rb"(?i)content-length: *(\d+)", head)
        assert found is not None
        length = int(found.group(1))
        seen.append((head, await reader.readexactly(length)))
        answer = json.dumps({"accepted": 1, "refused": [], "version": "v2"}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(answer)}\r\nConnection: close\r\n\r\n".encode()
            + answer
        )
        await writer.drain()

    async with RawServer(take) as server, client(server.url("")) as agent:
        answer = await agent.push([RESULT], AGENT)
    ((head, raw),) = seen
    assert b"content-encoding: gzip" in head.lower()
    body = json.loads(gzip.decompress(raw))
    assert body["protocol"] == PROTOCOL
    assert isinstance(body["sent_at"], float)
    assert body["results"] == [RESULT]
    assert body["agent"] == AGENT
    assert (answer.accepted, answer.version) == (1, "v2")


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, Away), (500, Away), (413, Rejected), (400, Rejected), (401, Unauthorized)],
)
async def test_each_answer_to_a_push_maps_to_its_error(status: int, error: type[Exception]) -> None:
    async with StandInNode(MONITORS) as node, client(node.url) as agent:
        node.results_status = status
        with pytest.raises(error, match=str(status)):
            await agent.push([RESULT], AGENT)


async def test_a_protocol_refusal_is_final_and_says_why() -> None:
    async with StandInNode(MONITORS) as node, client(node.url) as agent:
        node.protocol = PROTOCOL + 1
        with pytest.raises(Refused, match=r"409.*agent protocol 2 here"):
            await agent.assignment()


async def test_a_wrong_kind_of_token_is_final() -> None:
    async with StandInNode(MONITORS) as node, client(node.url) as agent:
        node.assignment_status = 403
        with pytest.raises(Refused, match="403"):
            await agent.assignment()


async def test_a_dead_port_means_the_node_is_away() -> None:
    with RefusingPort() as port:
        async with client(f"http://127.0.0.1:{port.port}") as agent:
            with pytest.raises(Away, match="cannot connect"):
                await agent.assignment()


async def test_an_answer_slower_than_the_timeout_means_the_node_is_away() -> None:
    async with StandInNode(MONITORS) as node, client(node.url, total_timeout=0.3) as agent:
        node.delay = 2.0
        with pytest.raises(Away, match="timeout"):
            await agent.push([RESULT], AGENT)


async def test_an_oversized_answer_is_not_read() -> None:
    async with StandInNode(MONITORS) as node, client(node.url, max_assignment=10_000) as agent:
        node.answer_padding = 20_000
        with pytest.raises(Away, match="too large"):
            await agent.assignment()


def test_backoff_doubles_up_to_its_limit_with_jitter_and_resets() -> None:
    backoff = Backoff(1.0, 8.0, rng=random.Random(7))
    waits = [backoff.next() for _ in range(6)]
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert len(set(waits)) == len(waits)  # drawn, not fixed
    backoff.reset()
    assert 0.5 <= backoff.next() <= 1.0


def test_only_an_http_base_url_is_a_server() -> None:
    assert check_server("https://wk.example.com/") == "https://wk.example.com"
    for bad in ("ftp://x", "wk.example.com", "http://x/?a=1"):
        with pytest.raises(ValueError, match="--server"):
            check_server(bad)
