"""Every proxied connection holds a bounded amount of data: when the far side stops reading,
the proxy stops reading from the near side (and the sender's writes stall), with or without a
toxic on the way. A connection whose upstream refuses is closed; an upstream host name
resolves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from tests.chaos.conftest import READ_TIMEOUT, port_of
from tests.helpers.ports import free_port

from watchkeeper.chaos.api import ChaosServer
from watchkeeper.chaos.links import QUEUE_CHUNKS
from watchkeeper.chaos.proxy import Proxy

BLOCK = b"x" * 65536


@contextlib.asynccontextmanager
async def deaf_server() -> AsyncIterator[int]:
    """Accepts connections and never reads from them."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0, limit=65536)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.transport.abort()
        server.close()
        await server.wait_closed()


async def _stall(port: int) -> tuple[int, asyncio.StreamWriter]:
    """Write through the proxy until a write waits for a second: the bytes written."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    written = 0
    while True:
        writer.write(BLOCK)
        try:
            await asyncio.wait_for(writer.drain(), 1.0)
        except TimeoutError:
            return written, writer
        written += len(BLOCK)
        assert written < 512 * 1024 * 1024, "the proxy never pushed back"


async def _through(chaos: ChaosServer, upstream: int, toxic: dict[str, object] | None) -> Proxy:
    proxy = await chaos.proxies.create({"name": "flow", "upstream": f"127.0.0.1:{upstream}"})
    if toxic is not None:
        chaos.proxies.add_toxic("flow", toxic)
    return proxy


@pytest.mark.parametrize(
    "toxic",
    [None, {"type": "latency", "attributes": {"latency": 10}}],
    ids=["pass-through", "through a toxic"],
)
async def test_a_reader_that_stops_stops_the_sender(
    chaos: ChaosServer, toxic: dict[str, object] | None
) -> None:
    async with deaf_server() as upstream:
        proxy = await _through(chaos, upstream, toxic)
        written, writer = await _stall(port_of(proxy.listen))
        try:
            (connection,) = proxy.connections
            link = connection.links[0]
            assert len(link.queue) <= QUEUE_CHUNKS
            assert link.dest.transport.get_write_buffer_size() <= 1024 * 1024
            assert written < 256 * 1024 * 1024, written  # kernel buffers, not the proxy's
        finally:
            writer.transport.abort()


async def test_a_connection_whose_upstream_refuses_is_closed(chaos: ChaosServer) -> None:
    proxy = await chaos.proxies.create({"name": "nowhere", "upstream": f"127.0.0.1:{free_port()}"})
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(proxy.listen))
    try:
        writer.write(b"hello")
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(reader.read(), READ_TIMEOUT) == b""
        assert proxy.connections == set()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_an_upstream_named_by_host_name_resolves(chaos: ChaosServer) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(100))
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    try:
        upstream = f"localhost:{server.sockets[0].getsockname()[1]}"
        proxy = await chaos.proxies.create({"name": "named", "upstream": upstream})
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(proxy.listen))
        writer.write(b"hello")
        assert await asyncio.wait_for(reader.read(), READ_TIMEOUT) == b"hello"
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
