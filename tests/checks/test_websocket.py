"""The websocket check against real ``websockets`` servers the tests start (plain, and TLS
with the test CA), and against raw TCP servers for the handshakes no library would send."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from http import HTTPStatus
from typing import Any

import pytest
from tests.helpers import faults
from tests.helpers.certs import CertificateSet
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

Handler = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def websocket_server(handler: Handler, **options: Any) -> AsyncIterator[Server]:
    async with serve(handler, "127.0.0.1", 0, **options) as server:
        yield server


def port_of(server: Server) -> int:
    port: int = next(iter(server.sockets)).getsockname()[1]
    return port


@pytest.fixture
def ws_server(servers: AsyncExitStack) -> Callable[..., Awaitable[int]]:
    """``await ws_server(handler, **serve_options)``: the port of a running server."""

    async def start(handler: Handler, **options: Any) -> int:
        return port_of(await servers.enter_async_context(websocket_server(handler, **options)))

    return start


async def echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def never_reply(connection: ServerConnection) -> None:
    await connection.wait_closed()


async def test_it_sends_a_message_and_reads_the_echo(check, ws_server):
    port = await ws_server(echo)
    result = await check(f"""
        monitors:
          - name: echo
            websocket: {{url: "ws://127.0.0.1:{port}/echo", send: "hello"}}
            timeout: 2s
            expect: ["websocket.reply == 'hello'", "websocket.reply_bytes == 5"]
        """)
    assert result.ok, result.reason
    phases = result.phases
    assert phases.connect is not None and phases.ttfb is not None
    assert phases.transfer is not None
    assert phases.dns is None and phases.tls is None


async def test_it_shows_the_reply_when_it_is_not_the_expected_one(check, ws_server):
    port = await ws_server(echo)
    result = await check(f"""
        monitors:
          - name: echo
            websocket: {{url: "ws://localhost:{port}/", send: "hello"}}
            timeout: 2s
            expect: ["websocket.reply contains 'bye'"]
        """)
    assert not result.ok
    assert result.failures == ["websocket.reply 'hello', expected contains 'bye'"]
    assert result.phases.dns is not None


async def test_without_a_message_to_send_it_only_opens_the_connection(check, ws_server):
    port = await ws_server(never_reply)
    result = await check(f"""
        monitors:
          - name: open
            websocket: ws://127.0.0.1:{port}
            timeout: 2s
        """)
    assert result.ok, result.reason
    assert result.phases.ttfb is not None
    assert result.phases.transfer is None


async def test_it_reads_a_greeting_an_expectation_asks_for(check, ws_server):
    async def greet(connection: ServerConnection) -> None:
        await connection.send(b"\x00welcome")  # binary: decoded for expectations
        await connection.wait_closed()

    port = await ws_server(greet)
    result = await check(f"""
        monitors:
          - name: greeting
            websocket: ws://127.0.0.1:{port}
            timeout: 2s
            expect: ["websocket.reply contains 'welcome'", "websocket.reply_binary == true"]
        """)
    assert result.ok, result.reason


async def test_it_sends_headers_and_offers_subprotocols(check, ws_server):
    seen: list[str | None] = []

    async def record(connection: ServerConnection) -> None:
        seen.append(connection.request.headers.get("Authorization") if connection.request else None)
        await echo(connection)

    port = await ws_server(record, subprotocols=["chat.v2", "chat.v1"])
    result = await check(f"""
        monitors:
          - name: chat
            websocket:
              url: ws://127.0.0.1:{port}/chat
              send: hi
              headers: {{Authorization: "Bearer t0k3n"}}
              subprotocols: [chat.v1]
            timeout: 2s
            expect: ["websocket.subprotocol == 'chat.v1'", "websocket.reply == 'hi'"]
        """)
    assert result.ok, result.reason
    assert seen == ["Bearer t0k3n"]


async def test_a_server_that_never_replies_times_out_in_the_transfer_phase(check, ws_server):
    port = await ws_server(never_reply)
    result = await check(f"""
        monitors:
          - name: mute
            websocket: {{url: "ws://127.0.0.1:{port}/", send: "anyone?"}}
            timeout: 500ms
        """)
    assert not result.ok
    assert result.error == "timeout after 500ms in transfer (waiting for the reply)"
    assert result.phases.total is not None and result.phases.total < 0.5 + 0.75


async def test_a_server_that_never_answers_the_upgrade_times_out_in_the_handshake(
    check, hanging_server
):
    result = await check(f"""
        monitors:
          - name: hang
            websocket: ws://{hanging_server.address}/
            timeout: 500ms
        """)
    assert not result.ok
    assert result.error == "timeout after 500ms in ttfb (waiting for the WebSocket handshake)"


async def test_an_upgrade_answered_with_403_fails_naming_the_status(check, ws_server):
    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(HTTPStatus.FORBIDDEN, "no entry\n")

    port = await ws_server(echo, process_request=refuse)
    result = await check(f"""
        monitors:
          - name: forbidden
            websocket: {{url: "ws://127.0.0.1:{port}/", send: "hi"}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error == "handshake: the server answered HTTP 403 Forbidden, not 101"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "handshake: malformed response ("),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n",
            "handshake: malformed response (invalid Sec-WebSocket-Accept header",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "handshake: the server answered"),
    ],
    ids=["not-http", "wrong-accept-key", "plain-200"],
)
async def test_a_malformed_handshake_fails_in_one_line(check, serve_raw, answer, reason):
    server = await serve_raw(faults.reply(b"\r\n\r\n", answer))
    result = await check(f"""
        monitors:
          - name: bad
            websocket: {{url: "ws://{server.address}/", send: "hi"}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is not None and result.error.startswith(reason), result.error
    assert "\n" not in result.error


async def test_a_reply_over_max_size_fails_without_being_kept(check, ws_server):
    async def flood(connection: ServerConnection) -> None:
        await connection.recv()
        await connection.send("x" * (4 * 1024 * 1024))
        await connection.wait_closed()

    port = await ws_server(flood, max_size=None)
    result = await check(f"""
        monitors:
          - name: huge
            websocket: {{url: "ws://127.0.0.1:{port}/", send: "all of it", max_size: 64KiB}}
            timeout: 5s
        """)
    assert not result.ok
    assert result.error == "reply over cap: more than 64KiB (raise max_size)"
    assert "websocket.reply_bytes" not in result.metrics


async def test_a_fragmented_reply_over_max_size_fails_too(check, ws_server):
    async def fragments(connection: ServerConnection) -> None:
        await connection.recv()
        await connection.send(iter(["y" * 32 * 1024] * 8))  # 8 frames of 32 KiB each
        await connection.wait_closed()

    port = await ws_server(fragments)
    result = await check(f"""
        monitors:
          - name: parts
            websocket: {{url: "ws://127.0.0.1:{port}/", send: "go", max_size: 100KiB}}
            timeout: 5s
        """)
    assert not result.ok
    assert result.error == "reply over cap: more than 100KiB (raise max_size)"


async def test_a_close_before_the_reply_names_the_close_code(check, ws_server):
    async def policy(connection: ServerConnection) -> None:
        await connection.recv()
        await connection.close(1008, "not allowed")

    port = await ws_server(policy)
    result = await check(f"""
        monitors:
          - name: closed
            websocket: {{url: "ws://127.0.0.1:{port}/", send: "hi"}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error == (
        "the server closed the connection before replying "
        "(close code 1008 policy violation: not allowed)"
    )
    assert result.metrics["websocket.close_code"] == 1008


async def test_it_connects_over_tls_with_a_private_ca(check, ws_server, certificates):
    port = await ws_server(echo, ssl=certificates.valid.server_context())
    result = await check(f"""
        monitors:
          - name: secure
            websocket:
              url: wss://localhost:{port}/
              send: over tls
              ca_file: {certificates.ca_file}
            timeout: 2s
            expect:
              - websocket.reply == 'over tls'
              - cert.issuer contains 'Watchkeeper Test CA'
              - tls.protocol in ['TLSv1.2', 'TLSv1.3']
        """)
    assert result.ok, result.reason
    assert result.phases.tls is not None
    assert result.cert_expires_at is not None


async def test_it_rejects_a_certificate_it_does_not_trust(
    check, ws_server, certificates: CertificateSet
):
    port = await ws_server(echo, ssl=certificates.valid.server_context())
    result = await check(f"""
        monitors:
          - name: secure
            websocket: wss://localhost:{port}/
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is not None and result.error.startswith("TLS: untrusted issuer")


async def test_verify_tls_false_accepts_it(check, ws_server, certificates: CertificateSet):
    port = await ws_server(echo, ssl=certificates.self_signed.server_context())
    result = await check(f"""
        monitors:
          - name: secure
            websocket: {{url: "wss://127.0.0.1:{port}/", send: ok, verify_tls: false}}
            timeout: 2s
        """)
    assert result.ok, result.reason


async def test_it_reports_connection_refused(check, refusing_port):
    result = await check(f"""
        monitors:
          - name: down
            websocket: ws://{refusing_port.address}/
            timeout: 1s
        """)
    assert not result.ok
    assert result.error == f"connection refused ({refusing_port.address})"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("http://example.com/", "is not a ws:// or wss:// URL"),
        ("{url: 'ws://example.com/', headers: {'Bad Name': x}}", "is not a valid header"),
    ],
)
def test_bad_settings_are_config_errors(monitors, value, reason):
    with pytest.raises(Exception, match=reason):
        monitors(f"""
            monitors:
              - {{name: bad, websocket: {value}}}
            """)


async def test_many_checks_in_flight_share_nothing_but_the_server(check_all, ws_server):
    port = await ws_server(echo)
    results = await check_all(
        "monitors:\n"
        + "".join(
            f"  - {{name: e{i}, websocket: {{url: 'ws://127.0.0.1:{port}/', send: m{i}}},"
            f" timeout: 5s, expect: [\"websocket.reply == 'm{i}'\"]}}\n"
            for i in range(20)
        )
    )
    assert [r.ok for r in results] == [True] * 20, [r.reason for r in results if not r.ok]
