"""uvicorn inside our event loop, without its signal handling (``wk up`` owns the signals),
with deadlines for slow clients and a cap on connections per address (``connections``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from watchkeeper.web.connections import ConnectionLimits, uvicorn_options


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    def __init__(
        self, app: FastAPI, host: str, port: int, limits: ConnectionLimits | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.limits = limits or ConnectionLimits()
        self._server = _Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="off",
                **uvicorn_options(self.limits),
            )
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start listening; raise OSError when the address cannot be bound."""
        # Bind here rather than in uvicorn, so a taken port is an OSError reported in one
        # line (uvicorn would log it and exit the whole process).
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto given: asyncio sets TCP_NODELAY on accepted sockets only when it is
        # IPPROTO_TCP, and without it a small answer waits 40 ms for a delayed ACK
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(2048)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                exc = self._task.exception()
                raise OSError(str(exc) if exc else "the server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception, SystemExit):
                await self._task
