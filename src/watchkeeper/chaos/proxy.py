"""Proxies, their connections, and the pumps that move bytes through toxics.

Each accepted connection opens one to the upstream and runs two *links* (``upstream``: client to
server, ``downstream``: server to client). A link is a reader and a writer joined by a short
queue: the reader stamps each chunk with the time it was read, the writer passes it through the
link's toxic effects and writes it. Every buffer is bounded (the stream reader's, the queue,
the transport's write buffer): when the far side is slow, ``drain`` waits, the queue fills and
the reader stops reading, so the kernel pushes back on the sender. With no toxic and nothing
queued the reader writes directly (the pass-through path costs one read and one write).

A toxic added, changed or removed is applied to every open connection at once (``sync``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from typing import Any

from watchkeeper.chaos.errors import BadInput, ListenFailed
from watchkeeper.chaos.toxics import NAME_LIMIT, Chunk, Closed, Effect, Toxic

CHUNK = 64 * 1024
QUEUE_CHUNKS = 8
CONNECT_TIMEOUT = 10.0
MAX_CONNECTIONS = 1024  # per proxy; more are refused (closed at once)
LOOPBACK = "127.0.0.1"


def split_address(text: object, field: str, *, default_host: str | None = None) -> tuple[str, int]:
    """``host:port`` (IPv6 in brackets) as (host, port); an empty host is ``default_host``."""
    if not isinstance(text, str) or not 0 < len(text) <= 300 or not text.isprintable():
        raise BadInput(f"bad request body: {field} is host:port")
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BadInput(f"{field} {text!r} is not host:port")
    host = host.removeprefix("[").removesuffix("]")
    if not host:
        if default_host is None:
            raise BadInput(f"{field} {text!r} has no host")
        host = default_host
    return host, int(port)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Link:
    """One direction of one connection."""

    def __init__(
        self,
        connection: Connection,
        stream: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.connection = connection
        self.stream = stream
        self.reader = reader
        self.writer = writer
        self.queue: asyncio.Queue[Chunk | None] = asyncio.Queue(QUEUE_CHUNKS)
        self.pending = 0  # chunks queued or being written by the writer
        self.drawn: dict[Toxic, Effect | None] = {}
        self.chain: tuple[Effect, ...] = ()

    def sync(self, toxics: list[Toxic]) -> None:
        """Apply the proxy's toxics now: new ones draw their toxicity, removed ones stop."""
        kept: dict[Toxic, Effect | None] = {}
        for toxic in toxics:
            if toxic.stream != self.stream:
                continue
            if toxic in self.drawn:
                kept[toxic] = self.drawn[toxic]
                continue
            effect = toxic.effect(self.connection) if random.random() < toxic.toxicity else None
            if effect is not None:
                effect.start()
            kept[toxic] = effect
        for toxic, effect in self.drawn.items():
            if toxic not in kept and effect is not None:
                effect.stop()
        self.drawn = kept
        self.chain = tuple(effect for effect in kept.values() if effect is not None)

    def stop_all(self) -> None:
        for effect in self.chain:
            effect.stop()

    async def read(self) -> None:
        reader, writer = self.reader, self.writer
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            if not self.chain and not self.pending:
                writer.write(data)
                await writer.drain()
                continue
            self.pending += 1
            await self.queue.put(Chunk(time.perf_counter(), data))
        self.pending += 1
        await self.queue.put(None)

    async def write(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                chain = self.chain
                if item is None:
                    for effect in chain:
                        await effect.end()
                    if self.writer.can_write_eof() and not self.writer.is_closing():
                        self.writer.write_eof()
                    return
                await self._through(chain, 0, item)
            except Closed:
                return
            finally:
                self.pending -= 1

    async def _through(self, chain: tuple[Effect, ...], index: int, chunk: Chunk) -> None:
        if index == len(chain):
            self.writer.write(chunk.data)
            await self.writer.drain()
            return

        async def onward(piece: Chunk) -> None:
            await self._through(chain, index + 1, piece)

        await chain[index].feed(chunk, onward)


class Connection:
    """A client connection and the one it opened to the upstream."""

    def __init__(
        self, proxy: Proxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.proxy = proxy
        self.client = (reader, writer)
        self.links: list[Link] = []
        self.upstream_writer: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False

    async def run(self) -> None:
        host, port = self.proxy.upstream_address
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                upstream = await asyncio.open_connection(host, port, limit=CHUNK)
        except (OSError, TimeoutError):
            self.client[1].close()
            return
        if self.closed:  # the proxy was stopped while connecting
            upstream[1].close()
            return
        self.upstream_writer = upstream[1]
        self.links = [
            Link(self, "upstream", self.client[0], upstream[1]),
            Link(self, "downstream", upstream[0], self.client[1]),
        ]
        self.sync()
        self.tasks = [
            asyncio.create_task(step()) for link in self.links for step in (link.read, link.write)
        ]
        try:
            await asyncio.wait(self.tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            self.close(reset=False)
            await asyncio.wait(self.tasks)
            for task in self.tasks:
                if not task.cancelled():
                    task.exception()  # a peer's reset or broken pipe ends the connection

    def sync(self) -> None:
        toxics = list(self.proxy.toxics.values())
        for link in self.links:
            link.sync(toxics)

    def close(self, *, reset: bool) -> None:
        """End the connection: gracefully (queued data flushed, then FIN), or with a reset
        (RST, unsent data discarded). Held data of effects is released to nowhere."""
        if self.closed:
            return
        self.closed = True
        for link in self.links:
            link.stop_all()
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        for writer in (self.client[1], self.upstream_writer):
            if writer is None:
                continue
            if reset:
                _linger_zero(writer)
                writer.transport.abort()
            else:
                writer.close()
        self.proxy.connections.discard(self)


def _linger_zero(writer: asyncio.StreamWriter) -> None:
    sock: Any = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class Proxy:
    """One listening address passed on to one upstream, with its toxics."""

    def __init__(self, name: str, listen: str, upstream: str, *, enabled: bool = True) -> None:
        self.name = name
        self.listen = listen
        self.listen_address = split_address(listen, "listen", default_host=LOOPBACK)
        self.upstream = upstream
        self.upstream_address = split_address(upstream, "upstream")
        self.enabled = enabled
        self.toxics: dict[str, Toxic] = {}
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        host, port = self.listen_address
        try:
            self._server = await asyncio.start_server(self._accept, host, port, limit=CHUNK)
        except OSError as exc:
            raise ListenFailed(f"listen tcp {self.listen}: {exc.strerror or exc}") from exc
        if port == 0:
            bound = self._server.sockets[0].getsockname()[1]
            self.listen_address = (host, bound)
            self.listen = _join(host, bound)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for connection in list(self.connections):
            connection.close(reset=False)
        for handler in list(self._handlers):
            handler.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers)
        await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self.connections) >= MAX_CONNECTIONS or self._server is None:
            writer.close()
            return
        connection = Connection(self, reader, writer)
        self.connections.add(connection)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await connection.run()
        except asyncio.CancelledError:
            connection.close(reset=False)
        finally:
            self.connections.discard(connection)
            if task is not None:
                self._handlers.discard(task)

    def changed(self) -> None:
        """The toxics changed: apply them to every open connection."""
        for connection in list(self.connections):
            connection.sync()

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [toxic.to_json() for toxic in self.toxics.values()],
        }


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise BadInput("missing required field: name")
    if len(name) > NAME_LIMIT or not name.isprintable() or "/" in name:
        raise BadInput(f"bad request body: a proxy name is printable text of at most {NAME_LIMIT}")
    return name
