"""Hostile and broken targets: each gives a finding or a one-line FetchError within the
fetcher's timeout, from exposure and from delivery alike; nothing crashes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from tests.helpers.faults import endless_body, never_answer, read_request
from tests.helpers.servers import Handler, RawServer, RefusingPort, WebServer

from watchkeeper.audit._http import Fetcher, FetchError
from watchkeeper.audit.delivery import delivery
from watchkeeper.audit.exposure import exposure
from watchkeeper.findings import Finding

Audit = Callable[..., Awaitable[list[Finding]]]
BOTH = [pytest.param(exposure, id="exposure"), pytest.param(delivery, id="delivery")]


def huge_header() -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
        await writer.drain()
        writer.close()

    return handle


async def _run(audit: Audit, url: str, **fetcher: object) -> list[Finding]:
    async with Fetcher(**fetcher) as fetch:  # type: ignore[arg-type]
        return await audit(url, fetch=fetch)


@pytest.mark.parametrize("audit", BOTH)
async def test_a_server_that_never_answers_is_one_line(audit: Audit) -> None:
    async with RawServer(never_answer()) as server:
        with pytest.raises(FetchError) as error:
            await _run(audit, server.url("/"), timeout=0.5)
    assert str(error.value) == f"{server.url('/')}: no complete answer within 0.5s"


@pytest.mark.parametrize("audit", BOTH)
async def test_a_refused_connection_is_one_line(audit: Audit) -> None:
    with RefusingPort() as port:
        url = f"http://127.0.0.1:{port.port}/"
        with pytest.raises(FetchError, match=r"connection refused$"):
            await _run(audit, url, timeout=2)


@pytest.mark.parametrize("audit", BOTH)
async def test_a_huge_header_is_one_line(audit: Audit) -> None:
    async with RawServer(huge_header()) as server:
        with pytest.raises(FetchError, match="bad HTTP answer") as error:
            await _run(audit, server.url("/"), timeout=2)
    assert "\n" not in str(error.value)


async def test_an_endless_body_is_cut_and_weighed() -> None:
    async with RawServer(endless_body(chunked=True)) as server:
        findings = await _run(delivery, server.url("/"), timeout=5, max_body=300_000)
    rules = {f.rule for f in findings}
    assert {"not-html", "compression-missing", "http2-missing"} <= rules
    compression = next(f for f in findings if f.rule == "compression-missing")
    assert compression.evidence["bytes"] == 300_000  # the cap, not the endless rest


async def test_exposure_of_an_endless_body_finds_nothing_and_ends() -> None:
    async with RawServer(endless_body(chunked=False)) as server:
        assert await _run(exposure, server.url("/"), timeout=5) == []


def _app() -> web.Application:
    app = web.Application()

    async def loop(request: web.Request) -> web.StreamResponse:
        target = "/b" if request.path == "/a" else "/a"
        raise web.HTTPFound(target)

    async def api(request: web.Request) -> web.StreamResponse:
        return web.json_response({"items": [{"id": i, "name": f"item {i}"} for i in range(200)]})

    app.router.add_get("/a", loop)
    app.router.add_get("/b", loop)
    app.router.add_get("/api", api)
    return app


async def test_a_redirect_loop_is_a_finding_for_delivery_and_no_trouble_for_exposure() -> None:
    async with WebServer(_app()) as server:
        delivered = await _run(delivery, server.url("/a"), timeout=5)
        exposed = await _run(exposure, server.url("/a"), timeout=5)
    assert [(f.rule, f.title) for f in delivered] == [
        ("redirect-loop", f"The page never arrives: redirect loop back to {server.url('/a')}")
    ]
    assert exposed == []


async def test_a_json_answer_is_not_html_and_still_judged_for_compression() -> None:
    async with WebServer(_app()) as server:
        findings = await _run(delivery, server.url("/api"), timeout=5)
    by_rule = {f.rule: f for f in findings}
    assert by_rule["not-html"].evidence["content_type"] == "application/json"
    body = json.dumps({"items": [{"id": i, "name": f"item {i}"} for i in range(200)]})
    assert by_rule["compression-missing"].evidence["bytes"] == len(body)
