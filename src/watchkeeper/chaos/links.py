"""One proxied connection: two sockets (*sides*) and the two *links* between them (``upstream``:
client to server, ``downstream``: server to client).

Pass-through is callbacks only: a side's ``data_received`` writes the bytes straight to the
other side's transport, and when that transport's write buffer is full (``pause_writing``)
the source stops reading until it drains, so the kernel pushes back on the sender. No task
wakes up for a chunk that no toxic touches.

With toxics on a link (or bytes still queued), chunks go to a short queue, stamped with the
time they were read, and a writer task passes them through the link's effects. The queue is
bounded too: when it is full the source stops reading. A toxic added, changed or removed
applies to the open connection at once (``sync``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import random
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

from watchkeeper.chaos.toxics import Chunk, Closed, Effect, Toxic

if TYPE_CHECKING:
    from watchkeeper.chaos.proxy import Proxy

QUEUE_CHUNKS = 8
CONNECT_TIMEOUT = 10.0


class Side(asyncio.Protocol):
    """One socket of a connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses
        self.reads_into: Link | None = None  # the link this side's data goes into
        self.fed_by: Link | None = None  # the link writing to this side
        self.writable = asyncio.Event()
        self.writable.set()
        self._pauses: set[str] = set()
        self.early: list[bytes | None] = []  # read before its link existed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.connection.made(self)

    def data_received(self, data: bytes) -> None:
        if self.reads_into is not None:
            self.reads_into.received(data)
        else:  # before the upstream answers (uvloop may read before a pause takes hold)
            self.early.append(data)
            self.transport.pause_reading()  # now it holds: one chunk at most waits here

    def eof_received(self) -> bool:
        if self.reads_into is not None:
            self.reads_into.received(None)
        else:
            self.early.append(None)
        return True  # keep the other direction open (a half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.writable.set()
        self.connection.close(reset=False)

    def pause_writing(self) -> None:
        self.writable.clear()
        if self.fed_by is not None:
            self.fed_by.source.pause("buffer")

    def resume_writing(self) -> None:
        self.writable.set()
        if self.fed_by is not None:
            self.fed_by.source.resume("buffer")

    def pause(self, reason: str) -> None:
        if not self._pauses and self.transport is not None:
            self.transport.pause_reading()
        self._pauses.add(reason)

    def resume(self, reason: str) -> None:
        self._pauses.discard(reason)
        if not self._pauses and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()


class Link:
    """One direction of one connection, with the effects of its toxics."""

    def __init__(self, connection: Connection, stream: str, source: Side, dest: Side) -> None:
        self.connection = connection
        self.stream = stream
        self.source = source
        self.dest = dest
        source.reads_into = self
        dest.fed_by = self
        early, source.early = source.early, []
        self.queue: collections.deque[Chunk | None] = collections.deque()
        self.writer: asyncio.Task[None] | None = None
        self.drawn: dict[Toxic, Effect | None] = {}
        self.chain: tuple[Effect, ...] = ()
        self.done = False
        self.early = early

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

    def stop(self) -> None:
        for effect in self.chain:
            effect.stop()
        if self.writer is not None:
            self.writer.cancel()

    def received(self, data: bytes | None) -> None:
        """A chunk (``None``: the end) from the source."""
        if not self.chain and not self.queue and self.writer is None:
            if data is None:
                self._end()
            else:
                self.dest.transport.write(data)
            return
        self.queue.append(None if data is None else Chunk(time.perf_counter(), data))
        if len(self.queue) >= QUEUE_CHUNKS:
            self.source.pause("queue")
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())
            self.writer.add_done_callback(self._written)

    async def _write(self) -> None:
        while self.queue:
            item = self.queue.popleft()
            if len(self.queue) < QUEUE_CHUNKS // 2:
                self.source.resume("queue")
            chain = self.chain
            if item is None:
                for effect in chain:
                    await effect.end()
                self._end()
                return
            await self._through(chain, 0, item)

    def _written(self, task: asyncio.Task[None]) -> None:
        self.writer = None
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, Closed):
            return
        if error is not None:  # a bug: say so, and end this connection only
            self.connection.close(reset=False)
            asyncio.get_running_loop().call_exception_handler(
                {"message": "fault proxy link failed", "exception": error, "task": task}
            )
            return
        if self.queue:  # arrived while the last chunk was being written
            self.writer = asyncio.create_task(self._write())
            self.writer.add_done_callback(self._written)

    async def _through(self, chain: tuple[Effect, ...], index: int, chunk: Chunk) -> None:
        if index == len(chain):
            transport = self.dest.transport
            if transport.is_closing():
                raise Closed
            transport.write(chunk.data)
            if not self.dest.writable.is_set():
                await self.dest.writable.wait()
            return

        async def onward(piece: Chunk) -> None:
            await self._through(chain, index + 1, piece)

        await chain[index].feed(chunk, onward)

    def _end(self) -> None:
        transport = self.dest.transport
        if not transport.is_closing() and transport.can_write_eof():
            transport.write_eof()
        self.done = True
        self.connection.link_done()


class Connection:
    """A client connection and the one it opened to the upstream."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.client = Side(self)
        self.upstream: Side | None = None
        self.links: list[Link] = []
        self.closed = False
        self._opening: asyncio.Task[None] | None = None

    def made(self, side: Side) -> None:
        if side is not self.client:
            return
        if not self.proxy.admit(self):
            self.closed = True
            side.transport.close()
            return
        side.pause("connecting")
        self._opening = asyncio.create_task(self._open())
        self._opening.add_done_callback(self._opened)

    async def _open(self) -> None:
        upstream = Side(self)
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await self._dial(upstream)
        if self.closed:
            upstream.transport.close()
            return
        self.upstream = upstream
        self.links = [
            Link(self, "upstream", self.client, upstream),
            Link(self, "downstream", upstream, self.client),
        ]
        self.sync()
        for link in self.links:
            for data in link.early:
                link.received(data)
            link.early = []
        self.client.resume("connecting")

    async def _dial(self, upstream: Side) -> None:
        """Connect to the upstream; a host name resolves through c-ares on the loop (no
        thread waits on a DNS server that never answers), its addresses tried in turn."""
        host, port = self.proxy.upstream_address
        loop = asyncio.get_running_loop()
        resolver = self.proxy.resolver
        if resolver is None or _is_address(host):
            await loop.create_connection(lambda: upstream, host, port)
            return
        failure: OSError | None = None
        for _, address in await resolver.resolve(host, port):
            try:
                await loop.create_connection(lambda: upstream, address[0], port)
            except OSError as exc:
                failure = exc
            else:
                return
        raise failure or OSError(f"cannot connect to {host}")

    def _opened(self, task: asyncio.Task[None]) -> None:
        self._opening = None
        if not task.cancelled() and task.exception() is not None:
            self.close(reset=False)  # the upstream refused or did not answer in time

    def sync(self) -> None:
        toxics = list(self.proxy.toxics.values())
        for link in self.links:
            link.sync(toxics)

    def link_done(self) -> None:
        if all(link.done for link in self.links):
            self.close(reset=False)

    def close(self, *, reset: bool) -> None:
        """End the connection: gracefully (queued bytes flushed, then FIN) or with a reset
        (RST, unsent bytes discarded). Bytes held by effects are dropped."""
        if self.closed:
            return
        self.closed = True
        if self._opening is not None:
            self._opening.cancel()
        for link in self.links:
            link.stop()
        for side in (self.client, self.upstream):
            if side is None or side.transport is None:
                continue
            if reset:
                _linger_zero(side.transport)
                side.transport.abort()
            else:
                side.transport.close()
        self.proxy.forget(self)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _linger_zero(transport: Any) -> None:
    sock: Any = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
