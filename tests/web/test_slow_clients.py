"""Slow and greedy clients against the real server on a real port: a bounded slowloris on
loopback (from 127.0.0.2, so the test's own requests from 127.0.0.1 are another client).
Sockets that trickle their headers, say nothing or trickle a body are closed at their
deadline, one address holds at most its share of connections, and /healthz and pings go on
being answered throughout. (Deadlines are short here; the defaults are 10 s.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from tests.helpers.site import Site
from tests.helpers.web_app import ProbeTargetServer

from watchkeeper.web.connections import ConnectionLimits

UUID = "5b1f0c2e-8d7a-4c3b-9e6f-1a2b3c4d5e6f"
ATTACKER = "127.0.0.2"
SOCKETS = 500
PER_ADDRESS = 50


def config(web: ProbeTargetServer) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{interval: 1s, timeout: 500ms}}
monitors:
  - {{name: api, http: "{web.url("/health")}"}}
  - {{name: cron, heartbeat: {{period: 1h, grace: 1h, uuid: "{UUID}", ping_burst: 1000}}}}
"""


@pytest.fixture
async def site(tmp_path: Path, web: ProbeTargetServer) -> AsyncIterator[Site]:
    limits = ConnectionLimits(head_timeout=1.5, body_timeout=1.5, per_address=PER_ADDRESS)
    async with Site(config(web), tmp_path, limits=limits) as running:
        yield running


async def _connect(site: Site) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", site.server.port, local_addr=(ATTACKER, 0))


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    """The server closed the socket (EOF or reset) before ``within`` seconds passed."""
    try:
        await asyncio.wait_for(reader.read(), within)
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def test_a_socket_trickling_its_headers_is_closed_at_the_head_deadline(site: Site) -> None:
    reader, writer = await _connect(site)

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            for i in range(100):  # a header line every 0.2 s: never done
                writer.write(f"X-Slow-{i}: a\r\n".encode())
                await writer.drain()
                await asyncio.sleep(0.2)

    sender = asyncio.create_task(trickle())
    try:
        assert await _closed_by_server(reader, 10.0)
    finally:
        sender.cancel()
        writer.close()
    assert site.server.limits.timed_out >= 1


async def test_a_silent_socket_and_a_trickled_body_are_closed_too(site: Site) -> None:
    silent_reader, silent = await _connect(site)
    body_reader, body = await _connect(site)
    body.write(
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-"
        b"urlencoded\r\nContent-Length: 100000\r\n\r\nname="
    )

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(100):
                body.write(b"a")
                await body.drain()
                await asyncio.sleep(0.2)

    sender = asyncio.create_task(trickle())
    try:
        assert await _closed_by_server(silent_reader, 10.0)
        assert await _closed_by_server(body_reader, 10.0)
    finally:
        sender.cancel()
        silent.close()
        body.close()


async def test_a_kept_alive_connection_idle_past_the_deadline_is_closed(site: Site) -> None:
    reader, writer = await _connect(site)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    try:
        assert await _closed_by_server(reader, 10.0)
    finally:
        writer.close()


async def test_five_hundred_slow_sockets_leave_healthz_and_pings_answering(site: Site) -> None:
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    stop = asyncio.Event()

    async def slowloris() -> None:
        for _ in range(SOCKETS):
            try:
                reader, writer = await _connect(site)
            except OSError:
                continue
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            opened.append((reader, writer))
        while not stop.is_set():  # keep trickling on whatever is still open
            for _, writer in opened:
                if not writer.is_closing():
                    with contextlib.suppress(ConnectionError):
                        writer.write(b"X-a: b\r\n")
            await asyncio.sleep(0.5)

    attacker = asyncio.create_task(slowloris())
    answers: list[int] = []
    held: list[int] = []
    async with aiohttp.ClientSession(site.url) as visitor:
        for _ in range(40):
            for path in ("/healthz", f"/ping/{UUID}"):
                async with visitor.get(path) as answer:
                    answers.append(answer.status)
            held.append(site.server.limits.open.get(ATTACKER, 0))
            await asyncio.sleep(0.1)
    closed = await asyncio.gather(*(_closed_by_server(r, 10.0) for r, _ in opened))
    stop.set()
    await attacker
    for _, writer in opened:
        writer.close()
    assert len(opened) == SOCKETS, "every connect succeeded (over the cap: closed at once)"
    assert answers == [200] * len(answers)
    assert max(held) <= PER_ADDRESS
    assert site.server.limits.refused >= SOCKETS - PER_ADDRESS
    assert all(closed), f"{closed.count(False)} slow sockets were left open"
