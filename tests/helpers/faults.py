"""Misbehaving peers, as ``RawServer`` handlers: each plays one failure a check must report.

Every handler reads the request first (so the client is waiting for a response), then
misbehaves until the client gives up; the server then cancels whatever is left.
"""

from __future__ import annotations

import asyncio
import socket
import struct

from tests.helpers.servers import Handler

DRIP = 0.2  # seconds between the bytes a slow peer sends


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """The request head (up to the blank line); a body, if declared, is not read."""
    return await reader.readuntil(b"\r\n\r\n")


async def hold(reader: asyncio.StreamReader) -> None:
    """Keep the connection open, saying nothing, until the client hangs up."""
    while await reader.read(4096):
        pass


def never_answer() -> Handler:
    """Accepts and reads the request, then never says a word."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await hold(reader)

    return handle


def reset_after_request() -> Handler:
    """Reads the request, then resets the connection (SO_LINGER 0 makes close send RST)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    return handle


def drip_headers() -> Handler:
    """Slowloris: the status line, then one header byte every ``DRIP`` seconds, forever."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while True:
            writer.write(b"z")
            await writer.drain()
            await asyncio.sleep(DRIP)

    return handle


def drip_body() -> Handler:
    """Full headers at once, then one body byte every ``DRIP`` seconds, forever."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
        writer.write(b"Content-Length: 100000\r\n\r\n")
        while True:
            writer.write(b"z")
            await writer.drain()
            await asyncio.sleep(DRIP)

    return handle


def endless_body(*, chunked: bool) -> Handler:
    """A body that never ends: chunked, or with neither length nor chunking (read to close)."""
    block = b"x" * 16384

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        framing = b"Transfer-Encoding: chunked" if chunked else b"Connection: close"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + framing + b"\r\n\r\n")
        piece = b"%x\r\n%s\r\n" % (len(block), block) if chunked else block
        while True:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0)

    return handle


def declared_huge_body(size: int) -> Handler:
    """Declares ``Content-Length: size`` and then sends nothing: reading it would hang."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        await writer.drain()
        await hold(reader)

    return handle


def banner(text: bytes) -> Handler:
    """Greets every client with ``text`` (an SMTP-style banner), then waits for it to leave."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(text)
        await writer.drain()
        await hold(reader)

    return handle


def reply(expected: bytes, answer: bytes) -> Handler:
    """Waits for ``expected`` and answers it (``PING`` → ``+PONG``); says nothing otherwise."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(expected)
        writer.write(answer)
        await writer.drain()
        await hold(reader)

    return handle


def silent() -> Handler:
    """Accepts (and completes TLS, if any), then never says a word."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await hold(reader)

    return handle
