"""A small authoritative DNS server for dns check tests, built on dnspython's messages.

    zone = {"www.example.test.": {"A": ["192.0.2.10", "192.0.2.11"]}}
    async with DnsServer(zone) as server:      # UDP and TCP on 127.0.0.1:<server.port>
        ...

Names absent from the zone get NXDOMAIN; names in ``servfail`` get SERVFAIL; a name present
without records of the asked type gets an empty NOERROR answer. ``silent=True`` makes a
server that receives queries and never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import struct
from collections.abc import Iterable
from types import TracebackType

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

Zone = dict[str, dict[str, list[str]]]

HOST = "127.0.0.1"


class DnsServer:
    def __init__(
        self, zone: Zone, *, servfail: Iterable[str] = (), silent: bool = False, ttl: int = 300
    ) -> None:
        self.zone = {name.lower(): records for name, records in zone.items()}
        self.servfail = {name.lower() for name in servfail}
        self.silent = silent
        self.ttl = ttl
        self.queries: list[tuple[str, str, str]] = []  # (udp|tcp, name, type)
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    async def __aenter__(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        for _ in range(20):  # the free UDP port must also be free for TCP
            transport, _protocol = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(HOST, 0)
            )
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, HOST, port)
            except OSError as exc:
                transport.close()
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            self._udp, self.port = transport, port
            return self
        raise OSError(errno.EADDRINUSE, "no port free for both UDP and TCP")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._tcp.wait_closed()

    def answer(self, wire: bytes, transport: str) -> bytes | None:
        """The response to one query in wire format; None to stay silent."""
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().lower()
        record_type = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((transport, name, record_type))
        if self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name not in self.zone:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            texts = self.zone[name].get(record_type, [])
            if texts:
                response.answer.append(
                    dns.rrset.from_text_list(question.name, self.ttl, "IN", record_type, texts)
                )
        return response.to_wire()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                response = self.answer(await reader.readexactly(length), "tcp")
                if response is not None:
                    writer.write(struct.pack("!H", len(response)) + response)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector transport is not a DatagramTransport subclass: no isinstance.
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        response = self._server.answer(data, "udp")
        if response is not None and self._transport is not None:
            self._transport.sendto(response, addr)
