"""A TCP forwarder a test can cut: it listens on one address and passes each connection to
another; ``cut()`` closes every connection and refuses new ones (a network outage between
an agent and its node), ``mend()`` lets them through again."""

from __future__ import annotations

import asyncio
import contextlib


class Forward:
    def __init__(self, listen_host: str, to_host: str, to_port: int) -> None:
        self.listen_host = listen_host
        self.to = (to_host, to_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.cut_off = False

    async def start(self) -> Forward:
        self._server = await asyncio.start_server(self._pass, self.listen_host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{self.listen_host}:{self.port}"

    async def _pass(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.transport.abort()
            return
        # held from the start, so a cut while the upstream connect is under way drops it too
        self._open.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.to)
        except OSError:
            writer.transport.abort()
            self._open.discard(writer)
            return
        except BaseException:
            # cancelled mid-connect (the test's loop closing): without the abort the accepted
            # connection's transport outlives the loop, and its ResourceWarning lands in
            # whatever test the worker runs next
            writer.transport.abort()
            self._open.discard(writer)
            raise
        self._open.add(up_writer)
        if self.cut_off:  # cut while connecting
            up_writer.transport.abort()
            writer.transport.abort()
            self._open.difference_update((writer, up_writer))
            return

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(OSError):
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open.difference_update((writer, up_writer))

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    def mend(self) -> None:
        self.cut_off = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
