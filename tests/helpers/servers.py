"""Real servers for check tests, each on 127.0.0.1 and a free port (bound to port 0).

- ``RawServer(handler)``: a TCP (or TLS) server running ``handler(reader, writer)`` per
  connection — for banners and for misbehaving peers (see ``faults``).
- ``WebServer(app)``: an aiohttp application over HTTP or HTTPS.
- ``RefusingPort()``: a port that refuses connections (bound, never listening).

All are (async) context managers that close every socket they opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Awaitable, Callable
from types import TracebackType

from aiohttp import web

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

HOST = "127.0.0.1"


class RawServer:
    """Runs ``handler`` for each connection; a peer hanging up is not an error."""

    def __init__(self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0
        self.port = 0

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def url(self, path: str = "/", *, host: str = HOST) -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, HOST, 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections += 1
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self._handler(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the client hung up: that is the point of most of these servers
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            writer.transport.abort()
            self._writers.discard(writer)


class WebServer:
    """An aiohttp application served on a free port, over TLS when given a context."""

    def __init__(
        self, app: web.Application, *, ssl_context: ssl.SSLContext | None = None, host: str = HOST
    ) -> None:
        self._app = app
        self._ssl = ssl_context
        self.host = host
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    async def __aenter__(self) -> WebServer:
        self._runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self.host, 0))
            self.port = sock.getsockname()[1]
            await web.SockSite(self._runner, sock, ssl_context=self._ssl).start()
        except BaseException:
            sock.close()
            await self._runner.cleanup()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


class RefusingPort:
    """A port nothing listens on: the socket is bound (so no one else takes the port) but
    never listens, so connecting to it is refused."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((HOST, 0))
        self.port: int = self._sock.getsockname()[1]

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def __enter__(self) -> RefusingPort:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._sock.close()


def ok_site(host: str = HOST) -> WebServer:
    """A site answering 200 "ok" on every path (use it as ``async with ok_site() as site``)."""

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    return WebServer(app, host=host)
