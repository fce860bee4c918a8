"""A proxy: one listening address passed on to one upstream, with its toxics and its open
connections (``links.py`` moves their bytes)."""

from __future__ import annotations

import asyncio

from watchkeeper.chaos.errors import BadInput, ListenFailed
from watchkeeper.chaos.links import Connection
from watchkeeper.chaos.toxics import NAME_LIMIT, Toxic
from watchkeeper.resolver import NameResolver

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


class Proxy:
    """One listening address passed on to one upstream, with its toxics."""

    def __init__(
        self,
        name: str,
        listen: str,
        upstream: str,
        *,
        enabled: bool = True,
        resolver: NameResolver | None = None,
    ) -> None:
        self.name = name
        self.listen = listen
        self.listen_address = split_address(listen, "listen", default_host=LOOPBACK)
        self.upstream = upstream
        self.upstream_address = split_address(upstream, "upstream")
        self.enabled = enabled
        self.resolver = resolver
        self.toxics: dict[str, Toxic] = {}
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        if self._server is not None:
            return
        host, port = self.listen_address
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: Connection(self).client, host, port)
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
        await server.wait_closed()

    def admit(self, connection: Connection) -> bool:
        if self._server is None or len(self.connections) >= MAX_CONNECTIONS:
            return False
        self.connections.add(connection)
        return True

    def forget(self, connection: Connection) -> None:
        self.connections.discard(connection)

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
