"""Slow and greedy clients: deadlines for reading a request, and connections per address.

uvicorn waits for a request's head as long as the client keeps the socket open, and a
client that trickles a byte every few seconds resets its keep-alive timer each time; 500
such sockets hold 500 connections for as long as the attacker likes. ``guarded_protocol``
wraps uvicorn's httptools protocol so that

- a request's head (request line and headers) must be complete within ``head_timeout`` of
  the connection opening or of the previous answer (this is also the idle limit between
  requests on a kept-alive connection),
- its body within ``body_timeout`` of the head, and
- one client address holds at most ``per_address`` connections at once (IPv6 counted by
  its /64, which one host usually has whole); trusted proxies are exempt, since every
  client behind them shares their address.

Past a deadline or the cap the connection is closed without an answer: nothing a slow or
greedy client sends reaches the application, and every other connection is served as
before. The hooks are uvicorn's protocol callbacks (``connection_made``,
``on_headers_complete``, ``on_message_complete``, ``on_response_complete``,
``connection_lost``); tests/web/test_slow_clients.py holds them to their behaviour.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass
class ConnectionLimits:
    head_timeout: float = 10.0
    body_timeout: float = 10.0
    per_address: int = 256
    trusted: Sequence[str] = ()
    """Addresses or networks exempt from ``per_address`` (the reverse proxies)."""
    open: dict[str, int] = field(default_factory=dict)
    """Open connections by client key."""
    refused: int = 0
    timed_out: int = 0

    def __post_init__(self) -> None:
        self._networks = [ipaddress.ip_network(item, strict=False) for item in self.trusted]

    def key(self, host: str) -> str | None:
        """The counting key of a client address, or None when it is exempt."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host  # a Unix socket path or the like: counted as it is
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self._networks):
            return None
        if isinstance(address, ipaddress.IPv6Address):
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        return str(address)

    def admit(self, host: str) -> str | bool | None:
        """Count a new connection: its key (None: exempt), or False when over the cap."""
        key = self.key(host)
        if key is None:
            return None
        held = self.open.get(key, 0)
        if held >= self.per_address:
            self.refused += 1
            return False
        self.open[key] = held + 1
        return key

    def release(self, key: str) -> None:
        held = self.open.get(key, 0) - 1
        if held > 0:
            self.open[key] = held
        else:
            self.open.pop(key, None)


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol class with ``limits`` applied to every connection."""

    class GuardedProtocol(HttpToolsProtocol):
        _key: str | None = None
        _timer: asyncio.TimerHandle | None = None
        _admitted = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            peer = transport.get_extra_info("peername")
            host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            admitted = limits.admit(host) if host else None
            if admitted is False:
                self.transport = transport
                transport.abort()
                return
            self._key = admitted if isinstance(admitted, str) else None
            self._admitted = True
            super().connection_made(transport)
            self._arm(limits.head_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._key is not None:
                limits.release(self._key)
                self._key = None
            if self._admitted:
                super().connection_lost(exc)

        def on_headers_complete(self) -> None:
            self._arm(limits.body_timeout)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.pipeline:
                self._arm(limits.head_timeout)

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _expired(self) -> None:
            self._timer = None
            if not self.transport.is_closing():
                limits.timed_out += 1
                self.transport.close()

    return GuardedProtocol


def uvicorn_options(limits: ConnectionLimits) -> dict[str, Any]:
    """The uvicorn.Config arguments that go with ``limits``."""
    return {
        "http": guarded_protocol(limits),
        "timeout_keep_alive": int(max(1, limits.head_timeout)),
        "proxy_headers": bool(limits.trusted),
        "forwarded_allow_ips": list(limits.trusted) if limits.trusted else None,
    }
