"""The ping API under abuse, against the real app over real HTTP: a UUID's rate limit (429,
and the ping still counted), a bounded table and bounded bodies, whatever is sent."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import psycopg
import pytest
from fastapi import FastAPI
from tests.helpers.site import Site

from watchkeeper.engine import heartbeats as engine_heartbeats
from watchkeeper.store import pings
from watchkeeper.web.api import pings as ping_api
from watchkeeper.web.server import WebServer

UUID = "6f7c2c6e-9a4b-4d1e-9b2a-3c4d5e6f7a8b"


def config(limits: str = "") -> str:
    return f"""
storage: sqlite:///wk.db
monitors:
  - {{name: job, heartbeat: {{period: 1d, grace: 1h, uuid: "{UUID}"{limits}}},
     interval: 500ms, timeout: 100ms}}
"""


def stored(site: Site) -> list[pings.Ping]:
    with site.store.read() as connection:
        return pings.recent(connection, site.store.monitor_id("job"), limit=100_000)


async def state_of(site: Site, wanted: str) -> None:
    deadline = time.monotonic() + 10
    while str(site.engine.status["job"].state) != wanted:
        assert time.monotonic() < deadline, site.engine.status["job"]
        await asyncio.sleep(0.05)


async def test_past_the_limit_a_ping_gets_429_and_a_failure_still_takes_the_monitor_down(
    tmp_path: Path,
) -> None:
    # one token a minute after the burst: every ping past the first five is over the limit
    text = config(", ping_burst: 5, ping_rate: 0.0167")
    async with Site(text, tmp_path) as site, aiohttp.ClientSession() as client:
        base = f"{site.url}/ping/{UUID}"
        answers = []
        for index in range(30):  # a cron job gone wrong: a success ping in a loop
            async with client.post(f"{base}?rid=loop", data=f"run {index}") as answer:
                answers.append((answer.status, answer.headers.get("Retry-After")))
        assert answers[:5] == [(200, None)] * 5
        assert {status for status, _ in answers[5:]} == {429}
        assert all(int(after or 0) >= 1 for _, after in answers[5:]), "Retry-After in seconds"
        await state_of(site, "up")
        async with client.get(f"{base}/fail") as answer:
            assert answer.status == 429
            assert "counted" in await answer.text()
        await state_of(site, "down")  # the failure past the limit was not lost
        assert "reported failure" in (site.engine.status["job"].reason or "")
        deadline = time.monotonic() + 10  # what the pings past the limit said gets stored
        while not any(p.kind == "fail" for p in stored(site)):
            assert time.monotonic() < deadline, stored(site)
            await asyncio.sleep(0.05)
        rows = stored(site)
        assert [p.body for p in rows[:5]] == [f"run {i}" for i in range(5)]
        coalesced = rows[5:]  # a row a second at most: the newest success, then the failure
        assert [p.kind for p in coalesced][-2:] == ["success", "fail"], coalesced
        assert {p.kind for p in coalesced[:-1]} == {"success"} and len(coalesced) < 26
        assert all(p.body is None for p in coalesced), "bodies past the limit are not kept"
        assert site.engine.heartbeats.limited == 26
    async with Site(text, tmp_path) as again:
        await state_of(again, "down")  # and a restart rebuilds the same state from the store
        assert (
            again.engine.heartbeats.registry.beats["job"]
            == site.engine.heartbeats.registry.beats["job"]
        )


async def test_three_thousand_pings_to_one_uuid_store_a_bounded_number_of_rows_and_bytes(
    tmp_path: Path,
) -> None:
    """The issue's flood: 3,000 POSTs with 20 KiB bodies added 36 MiB before the limit."""
    async with Site(config(), tmp_path) as site:
        size_before = site.store.size_bytes()
        assert size_before is not None
        statuses: list[int] = []
        connector = aiohttp.TCPConnector(limit=50)
        started = time.monotonic()
        async with aiohttp.ClientSession(connector=connector) as client:

            async def one(index: int) -> None:
                async with client.post(f"{site.url}/ping/{UUID}", data=b"x" * 20_480) as answer:
                    statuses.append(answer.status)

            await asyncio.gather(*(one(i) for i in range(3000)))
        elapsed = time.monotonic() - started
        await site.engine.heartbeats.stop()  # stores what the pings past the limit said
        site.engine.heartbeats.start()
        rows = stored(site)
        size_after = site.store.size_bytes()
        assert size_after is not None

    settings = site.engine.heartbeats.settings_for(UUID)
    assert settings is not None and (settings.ping_burst, settings.ping_rate) == (20, 2.0)
    assert sorted(set(statuses)) == [200, 429] and len(statuses) == 3000
    ok = statuses.count(200)
    # a token bucket: the burst, then the rate over the time the flood took (not a wall-clock
    # threshold: the bound grows with however long a loaded machine took)
    assert ok <= 20 + 2.0 * elapsed + 1, (ok, elapsed)
    coalesced = [p for p in rows if p.body is None]
    assert len(rows) - len(coalesced) == ok, "each ping answered OK is stored with its body"
    flushes = elapsed / engine_heartbeats.FLUSH_AFTER + 2
    assert len(coalesced) <= flushes * 2 * engine_heartbeats.MOST_COALESCED, len(coalesced)
    body_bytes = sum(len((p.body or "").encode()) for p in rows)
    assert body_bytes == ok * 10 * 1024, "every body capped at keep_body"
    grown = size_after - size_before
    assert grown < len(rows) * 12 * 1024 + 1024 * 1024, f"the store grew {grown} bytes"


async def test_a_heartbeat_keeps_at_most_its_newest_thousand_pings(tmp_path: Path) -> None:
    async with Site(config(", ping_burst: 5000, ping_rate: 1000"), tmp_path) as site:
        connector = aiohttp.TCPConnector(limit=50)
        async with aiohttp.ClientSession(connector=connector) as client:

            async def one(index: int) -> int:
                async with client.get(f"{site.url}/ping/{UUID}?rid={index}") as answer:
                    return answer.status

            for first in range(0, 1500, 250):  # in waves: each wave's pings are one batch
                statuses = await asyncio.gather(*(one(i) for i in range(first, first + 250)))
                assert statuses == [200] * 250
        rows = stored(site)
    assert pings.KEEP <= len(rows) <= pings.KEEP + engine_heartbeats.TRIM_EVERY, len(rows)
    kept = {int(p.rid or 0) for p in rows}
    assert min(kept) >= 250 and max(kept) == 1499, "the oldest are gone, the newest kept"


async def _chunked_post(url: str, chunk: bytes, most: int) -> tuple[bytes, int]:
    """POST an endless chunked body of ``chunk``s (stopping at ``most`` bytes) until an
    answer comes: (the answer's first line, bytes sent)."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    answer = asyncio.create_task(reader.readline())
    sent = 0
    try:
        while not answer.done() and sent < most:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
            await asyncio.wait({answer}, timeout=0.001)
        if not answer.done():
            writer.write(b"0\r\n\r\n")
        return await asyncio.wait_for(answer, 30), sent
    finally:
        writer.close()


async def test_a_stored_body_is_capped_chunked_or_not_and_only_a_post_has_one(
    tmp_path: Path,
) -> None:
    async with Site(config(", keep_body: 1KiB"), tmp_path) as site:
        base = f"{site.url}/ping/{UUID}"
        async with aiohttp.ClientSession() as client:
            # invalid UTF-8: each byte decodes to U+FFFD, three bytes once stored
            async with client.post(base + "?rid=invalid", data=b"\xff" * 100_000) as answer:
                assert answer.status == 200
            async with client.get(base + "?rid=get", data=b"y" * 5000) as answer:
                assert answer.status == 200
            async with client.head(base + "?rid=head", data=b"y" * 5000) as answer:
                assert answer.status == 200
        first_line, sent = await _chunked_post(base + "?rid=chunked", b"z" * 65_536, 256 << 20)
        assert first_line.startswith(b"HTTP/1.1 200"), first_line
        assert sent < 256 << 20, "answered long before the endless body ended"
        bodies = {p.rid: p.body for p in stored(site)}
    assert bodies["get"] is None and bodies["head"] is None, "only a POST's body is read"
    assert bodies["chunked"] == "z" * 1024
    invalid = bodies["invalid"]
    assert invalid is not None and 0 < len(invalid.encode()) <= 1024
    assert set(invalid) == {"\ufffd"}


async def test_the_framework_route_caps_the_body_and_limits_the_rate_the_same_way(
    tmp_path: Path,
) -> None:
    """The FastAPI routes (behind the fast path, for the OpenAPI document and anything it
    does not take) served on their own: the same cap, the same limit."""
    async with Site(
        config(", keep_body: 1KiB, ping_burst: 2, ping_rate: 0.0167"), tmp_path
    ) as site:
        app = FastAPI()
        app.state.web = SimpleNamespace(engine=site.engine)
        app.include_router(ping_api.router)
        server = WebServer(app, "127.0.0.1", 0)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.port}/ping/{UUID}"
            async with aiohttp.ClientSession() as client:
                async with client.post(base + "?rid=big", data=b"b" * 1_000_000) as answer:
                    assert answer.status == 200
                async with client.post(base + "/start?rid=next", data=b"c" * 10) as answer:
                    assert answer.status == 200
                async with client.post(base + "/fail", data=b"d" * 10) as answer:
                    assert answer.status == 429 and answer.headers["Retry-After"].isdigit()
        finally:
            await server.stop()
        await state_of(site, "down")
        bodies = {p.rid: p.body for p in stored(site)}
    assert bodies["big"] == "b" * 1024


@pytest.fixture
def postgres_storage() -> Iterator[str]:
    """A throw-away database on the machine's PostgreSQL (never skipped: it must run)."""
    name = f"wk_pings_test_{secrets.token_hex(6)}"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_nul_in_a_body_or_run_id_does_not_cost_the_pings_around_it_on_postgresql(
    tmp_path: Path, postgres_storage: str
) -> None:
    """PostgreSQL's text cannot hold NUL: one such ping must not fail the batch it is
    committed with (every ping waiting at that moment)."""
    text = config(", ping_burst: 100").replace("sqlite:///wk.db", postgres_storage)
    async with Site(text, tmp_path) as site, aiohttp.ClientSession() as client:
        base = f"{site.url}/ping/{UUID}"

        async def one(path: str, body: bytes) -> int:
            async with client.post(base + path, data=body) as answer:
                return answer.status

        statuses = await asyncio.gather(
            one("?rid=nul%00rid", b"before\x00after"),
            *(one(f"?rid=plain{i}", b"fine") for i in range(20)),
        )
        assert statuses == [200] * 21
        bodies = {p.rid: p.body for p in stored(site)}
    assert bodies["nul\ufffdrid"] == "before\ufffdafter"
    assert bodies["plain7"] == "fine"
