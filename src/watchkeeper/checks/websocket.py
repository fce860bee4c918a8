"""``websocket``: open a WebSocket (ws:// or wss://), optionally send a text message and wait
for the reply.

    - {name: live, websocket: "wss://live.example.com/socket"}
    - name: echo
      websocket:
        url: wss://live.example.com/socket
        send: '{"type": "ping"}'
        headers: {Authorization: "Bearer ${WS_TOKEN}"}
        subprotocols: [chat.v1]
      expect: ["websocket.reply contains 'pong'"]

Phases: ``dns``, ``connect``, ``tls`` (wss), ``ttfb`` (the opening handshake: the HTTP
upgrade and its 101), ``transfer`` (from sending ``send`` to the first message back). A reply
is awaited when ``send`` is set or an expectation names ``websocket.reply``. Facts:
``websocket.reply`` (text; a binary message is decoded as UTF-8), ``websocket.reply_bytes``,
``websocket.subprotocol`` (what the server chose), ``websocket.close_code`` (when the server
closed the connection), and the certificate's ``cert.*``/``tls.*`` for wss.

Built on the ``websockets`` library's sans-I/O protocol over the probe's own connection, so
each phase is timed and every read is bounded: ``max_size`` caps a message (1 MiB unless
set), the library caps the handshake's headers and body, and a reply over the cap fails the
check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from watchkeeper.checks._net import (
    RUNTIME,
    TLS_SUBJECTS,
    close_stream,
    connect_or_fail,
    describe_os_error,
    readable_ca_file,
    start_tls_or_fail,
)
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.units import Size, format_size

if TYPE_CHECKING:
    import asyncio

    from websockets.client import ClientProtocol

_READ = 64 * 1024
"""Bytes asked of the socket per read (the protocol's own caps bound what it keeps)."""
_CLOSE_REASONS = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1007: "invalid data",
    1008: "policy violation",
    1009: "message too big",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
}


class WebsocketSettings(CheckSettings):
    shorthand_field = "url"

    url: str
    send: str | None = None
    """A text message to send once the connection is open."""
    expect_reply: bool | None = None
    """Wait for a message back (default: when ``send`` is set or an expectation needs it)."""
    headers: dict[str, str] = Field(default_factory=dict)
    subprotocols: tuple[str, ...] = ()
    verify_tls: bool = True
    ca_file: str | None = None
    """PEM file of the CAs to trust instead of the system's (a private CA)."""
    max_size: Size = Field(default=1024 * 1024, ge=1)
    """The largest message read; a bigger one fails the check."""

    _ca_file = field_validator("ca_file")(readable_ca_file)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"'{value}' is not a ws:// or wss:// URL")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError(f"'{value}' has a bad port") from None
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not name or any(c in name for c in ":\r\n ") or any(c in text for c in "\r\n"):
                raise ValueError(f"header '{name}' is not a valid header name and value")
        return value

    def host_key(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'wss' else 80)}"

    def target(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


class _Failed(Exception):
    """A one-line reason the probe stops with."""


async def probe(settings: WebsocketSettings, attempt: Attempt) -> None:
    from websockets.client import ClientProtocol
    from websockets.exceptions import InvalidURI
    from websockets.protocol import State
    from websockets.typing import Subprotocol
    from websockets.uri import parse_uri

    try:
        uri = parse_uri(settings.url)
    except (InvalidURI, ValueError) as exc:
        attempt.fail(f"bad URL ({_first_line(exc)})")
        return
    opened = await connect_or_fail(uri.host, uri.port, attempt, f"{uri.host}:{uri.port}")
    if opened is None:
        return
    reader, writer = opened
    try:
        if uri.secure:
            upgraded = await start_tls_or_fail(
                writer, attempt, uri.host, verify=settings.verify_tls, ca_file=settings.ca_file
            )
            if upgraded is None:
                return
        protocol = ClientProtocol(
            uri,
            subprotocols=[Subprotocol(p) for p in settings.subprotocols] or None,
            max_size=settings.max_size,
        )
        early = await _handshake(protocol, settings, reader, writer, attempt)
        wants_reply = settings.expect_reply
        if wants_reply is None:
            wants_reply = settings.send is not None or attempt.wanted("websocket.reply")
        if wants_reply:
            await _exchange(protocol, settings, reader, writer, attempt, early)
        if protocol.state is State.OPEN:
            protocol.send_close(1000)
            _flush(protocol, writer)
    except _Failed as failed:
        attempt.fail(str(failed))
    except OSError as exc:
        where = "during the handshake" if attempt.phase == "ttfb" else "waiting for the reply"
        attempt.fail(f"{describe_os_error(exc)} {where}")
    finally:
        await close_stream(writer)


def _flush(protocol: ClientProtocol, writer: asyncio.StreamWriter) -> None:
    for data in protocol.data_to_send():
        if data:
            writer.write(data)
        else:  # the protocol wants the TCP connection half-closed
            if writer.can_write_eof() and not writer.transport.is_closing():
                writer.write_eof()


async def _read(
    protocol: ClientProtocol, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> list[Any]:
    """Feed one read's bytes (or the end of the stream) to the protocol; the events it made."""
    data = await reader.read(_READ)
    if data:
        protocol.receive_data(data)
    else:
        protocol.receive_eof()
    _flush(protocol, writer)  # pongs, the closing handshake
    return protocol.events_received()


async def _handshake(
    protocol: ClientProtocol,
    settings: WebsocketSettings,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    attempt: Attempt,
) -> list[Any]:
    """The opening handshake (the ``ttfb`` phase); the frames that came in the same reads
    as the 101 (a greeting sent at once)."""
    from websockets.frames import Frame
    from websockets.protocol import State

    request = protocol.connect()
    for name, value in settings.headers.items():
        request.headers[name] = value
    protocol.send_request(request)
    attempt.begin("ttfb", "the WebSocket handshake")
    _flush(protocol, writer)
    await writer.drain()
    early: list[Any] = []
    while protocol.state is State.CONNECTING and protocol.handshake_exc is None:
        if reader.at_eof():
            break
        early += [e for e in await _read(protocol, reader, writer) if isinstance(e, Frame)]
    attempt.end("ttfb")
    if protocol.handshake_exc is not None or protocol.state is not State.OPEN:
        raise _Failed("handshake: " + _describe_handshake(protocol))
    if protocol.subprotocol is not None:
        attempt.observation.facts["websocket.subprotocol"] = str(protocol.subprotocol)
    return early


def _describe_handshake(protocol: ClientProtocol) -> str:
    from websockets.exceptions import InvalidHandshake, InvalidMessage, InvalidStatus

    exc = protocol.handshake_exc
    if isinstance(exc, InvalidStatus):
        response = exc.response
        reason = f" {response.reason_phrase}" if response.reason_phrase else ""
        return f"the server answered HTTP {response.status_code}{reason}, not 101"
    if isinstance(exc, InvalidMessage):
        cause = exc.__cause__
        detail = f" ({_first_line(cause)})" if cause is not None else ""
        return f"malformed response{detail}"
    if isinstance(exc, InvalidHandshake):
        return f"malformed response ({_first_line(exc)})"
    if exc is not None:
        return _first_line(exc)
    return "connection closed by the server before the handshake completed"


async def _exchange(
    protocol: ClientProtocol,
    settings: WebsocketSettings,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    attempt: Attempt,
    early: list[Any],
) -> None:
    """Send ``send`` (if any) and read the first message back, within ``max_size``."""
    from websockets.exceptions import PayloadTooBig
    from websockets.frames import Opcode

    attempt.begin("transfer", "the reply")
    if settings.send is not None:
        protocol.send_text(settings.send.encode())
        _flush(protocol, writer)
        await writer.drain()
    parts: list[bytes] = []
    size = 0
    binary = False
    facts = attempt.observation.facts
    while True:
        frames, early = early or await _read(protocol, reader, writer), []
        for frame in frames:
            if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                binary = frame.opcode is Opcode.BINARY
                parts, size = [], 0
            elif frame.opcode is not Opcode.CONT:
                continue  # ping, pong (answered by the protocol), close (below)
            parts.append(frame.data)
            size += len(frame.data)
            if size > settings.max_size:  # fragments: the protocol caps each frame
                raise _Failed(
                    f"reply over cap: more than {format_size(settings.max_size)} (raise max_size)"
                )
            if frame.fin:
                attempt.end("transfer")
                data = b"".join(parts)
                facts["websocket.reply"] = data.decode("utf-8", "replace")
                facts["websocket.reply_bytes"] = len(data)
                facts["websocket.reply_binary"] = binary
                return
        if isinstance(protocol.parser_exc, PayloadTooBig):
            raise _Failed(
                f"reply over cap: more than {format_size(settings.max_size)} (raise max_size)"
            )
        if protocol.close_rcvd is not None:
            code = protocol.close_rcvd.code
            facts["websocket.close_code"] = code
            raise _Failed(f"the server closed the connection before replying ({_close(protocol)})")
        if protocol.parser_exc is not None:
            raise _Failed(f"protocol error in the reply ({_first_line(protocol.parser_exc)})")
        if reader.at_eof():
            raise _Failed("connection closed by the server before replying")


def _close(protocol: ClientProtocol) -> str:
    close = protocol.close_rcvd
    if close is None:
        return "no close frame"
    meaning = _CLOSE_REASONS.get(close.code, "")
    said = f": {close.reason[:200]}" if close.reason else ""
    return f"close code {close.code}{f' {meaning}' if meaning else ''}{said}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


CHECK = CheckKind(
    name="websocket",
    settings=WebsocketSettings,
    subjects={
        "dns": ValueType.DURATION,
        "connect": ValueType.DURATION,
        "tls": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "transfer": ValueType.DURATION,
        "websocket.reply": ValueType.TEXT,
        "websocket.reply_bytes": ValueType.SIZE,
        "websocket.reply_binary": ValueType.BOOL,
        "websocket.subprotocol": ValueType.TEXT,
        "websocket.close_code": ValueType.NUMBER,
        **{name: ValueType.TEXT for name in TLS_SUBJECTS},
        "cert.expires_in": ValueType.DURATION,
        "cert.sans": ValueType.SET,
    },
    probe=probe,
    runtime=(
        *RUNTIME,
        "websockets.client",
        "websockets.exceptions",
        "websockets.frames",
        "websockets.protocol",
        "websockets.typing",
        "websockets.uri",
    ),
)
