"""The audit's bounded HTTP client against real servers that misbehave on purpose."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from tests.helpers.certs import CertificateSet
from tests.helpers.servers import RawServer, WebServer

from watchkeeper.audit._http import Fetcher, FetchError


def _app(routes: dict[str, web.Response | int]) -> web.Application:
    app = web.Application()

    async def handle(request: web.Request) -> web.StreamResponse:
        answer = routes.get(request.path)
        if answer is None:
            return web.Response(status=404)
        return answer if isinstance(answer, web.Response) else web.Response(status=answer)

    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def test_it_keeps_every_header_in_order_including_repeated_ones() -> None:
    answer = web.Response(text="hi")
    answer.headers.add("Set-Cookie", "a=1; Secure")
    answer.headers.add("Set-Cookie", "b=2; HttpOnly")
    answer.headers["X-Frame-Options"] = "DENY"
    async with WebServer(_app({"/": answer})) as server, Fetcher(timeout=5) as fetch:
        response = await fetch.get(server.url("/"))
    assert response.status == 200
    assert response.all("set-cookie") == ["a=1; Secure", "b=2; HttpOnly"]
    assert response.header("X-FRAME-OPTIONS") == "DENY"
    assert response.joined("set-cookie") == "a=1; Secure, b=2; HttpOnly"
    assert response.text == "hi"


async def test_it_follows_redirects_hop_by_hop_and_stops_at_a_loop() -> None:
    routes: dict[str, web.Response | int] = {
        "/a": web.Response(status=301, headers={"Location": "/b"}),
        "/b": web.Response(status=302, headers={"Location": "/a"}),
        "/c": web.Response(status=307, headers={"Location": "/d"}),
        "/d": web.Response(text="done"),
    }
    async with WebServer(_app(routes)) as server, Fetcher(timeout=5) as fetch:
        loop = await fetch.follow(server.url("/a"))
        ok = await fetch.follow(server.url("/c"))
    assert [r.status for r in loop.responses] == [301, 302]
    assert loop.stopped is not None and "loop" in loop.stopped
    assert ok.stopped is None
    assert ok.urls == [server.url("/c"), server.url("/d")]
    assert ok.final.body == b"done"


async def test_a_long_chain_stops_at_the_limit() -> None:
    routes: dict[str, web.Response | int] = {
        f"/{i}": web.Response(status=302, headers={"Location": f"/{i + 1}"}) for i in range(30)
    }
    async with WebServer(_app(routes)) as server, Fetcher(timeout=5, max_redirects=4) as fetch:
        chain = await fetch.follow(server.url("/0"))
    assert len(chain.responses) == 5
    assert chain.stopped == "more than 4 redirects"


async def test_an_endless_body_is_cut_at_the_cap() -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        sent = 0
        while sent < 50:  # far more than the cap; the client stops reading
            await response.write(b"x" * 65536)
            sent += 1
        return response

    app = web.Application()
    app.router.add_get("/", endless)
    async with WebServer(app) as server, Fetcher(timeout=5, max_body=100_000) as fetch:
        response = await fetch.get(server.url("/"))
    assert len(response.body) == 100_000
    assert response.truncated


async def test_a_server_that_never_answers_fails_within_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        await asyncio.sleep(30)

    async with RawServer(silent) as server, Fetcher(timeout=0.5) as fetch:
        with pytest.raises(FetchError, match=r"no complete answer within 0\.5s"):
            await fetch.get(f"http://{server.address}/")


async def test_a_huge_header_is_a_clear_error_not_a_crash() -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        await writer.drain()
        writer.close()

    async with RawServer(huge) as server, Fetcher(timeout=5) as fetch:
        with pytest.raises(FetchError, match="bad HTTP answer"):
            await fetch.get(f"http://{server.address}/")


async def test_it_refuses_hosts_it_was_not_given() -> None:
    async with Fetcher(timeout=5, allowed_hosts=frozenset({"127.0.0.1"})) as fetch:
        with pytest.raises(FetchError, match="not one this audit was given"):
            await fetch.get("http://192.0.2.1/")
        with pytest.raises(FetchError, match="not an http"):
            await fetch.get("ftp://127.0.0.1/")


async def test_a_certificate_that_does_not_verify_is_told_apart_and_can_be_skipped(
    certificates: CertificateSet,
) -> None:
    async def secret(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    app = web.Application()
    app.router.add_get("/", secret)
    context = certificates.wrong_host.server_context()
    async with WebServer(app, ssl_context=context) as server, Fetcher(timeout=5) as fetch:
        with pytest.raises(FetchError) as refused:
            await fetch.get(server.url("/"))
        answer = await fetch.get(server.url("/"), verify=False)
    assert refused.value.certificate is True
    assert answer.body == b"secret"


async def test_a_host_the_audit_was_not_given_is_refused_as_such() -> None:
    async with Fetcher(timeout=5, allowed_hosts=frozenset({"127.0.0.1"})) as fetch:
        with pytest.raises(FetchError) as refused:
            await fetch.get("http://elsewhere.example/")
    assert refused.value.refused is True
    assert refused.value.certificate is False
