"""The fault proxy's API server in the test's event loop, a real echo server behind it, and
the real ``toxiproxy-python`` client pointed at the API.

The Python client is synchronous (requests): every call goes through ``asyncio.to_thread`` so
the proxy, running in this loop, keeps serving while the client waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import uvloop
from toxiproxy.api import APIConsumer
from toxiproxy.server import Toxiproxy

from watchkeeper.chaos.api import ChaosServer

READ_TIMEOUT = 10.0


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The toxics' effects are measured on asyncio's own loop and on uvloop (what
    ``wk chaos proxy`` runs on); the rest of the package runs on asyncio's."""
    if item.path.name == "test_toxics.py":
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}


class EchoServer:
    """Writes back what it reads; closes when the client half-closes."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> EchoServer:
        self._server = await asyncio.start_server(self._echo, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            self._tasks.discard(task)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        await self._server.wait_closed()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    server = await EchoServer().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def chaos() -> AsyncIterator[ChaosServer]:
    server = await ChaosServer().start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def client(chaos: ChaosServer) -> Toxiproxy:
    """The real Python client; its address is class-wide, so each test sets it."""
    toxiproxy = Toxiproxy()
    toxiproxy.update_api_consumer("127.0.0.1", chaos.port)
    assert APIConsumer.port == chaos.port
    return toxiproxy


def port_of(listen: str) -> int:
    return int(listen.rpartition(":")[2])


@dataclass
class Peer:
    """A client connection through the proxy (or straight to the echo server)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def open(cls, port: int) -> Peer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def ping(self, size: int = 16) -> float:
        """Seconds for ``size`` bytes to go there and back."""
        payload = b"p" * size
        started = time.perf_counter()
        self.writer.write(payload)
        await self.writer.drain()
        got = await asyncio.wait_for(self.reader.readexactly(size), READ_TIMEOUT)
        assert got == payload
        return time.perf_counter() - started

    async def pings(self, count: int = 5) -> float:
        return statistics.median([await self.ping() for _ in range(count)])

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def peer(port: int) -> AsyncIterator[Peer]:
    connection = await Peer.open(port)
    try:
        yield connection
    finally:
        await connection.close()
