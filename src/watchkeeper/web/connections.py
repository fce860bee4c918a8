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
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from watchkeeper.auth.limits import address_key

log = logging.getLogger("watchkeeper.web")
FORWARDING_HEADERS = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip"})


@dataclass
class ConnectionLimits:
    head_timeout: float = 10.0
    body_timeout: float = 10.0
    write_timeout: float = 30.0
    """How long an answer may wait for a client that does not read it."""
    per_address: int = 256
    trusted: Sequence[str] = ()
    """Addresses or networks exempt from ``per_address`` (the reverse proxies)."""
    open: dict[str, int] = field(default_factory=dict)
    """Open connections by client key."""
    refused: int = 0
    timed_out: int = 0
    told_forwarding: bool = False
    """A proxy's forwarding headers from an untrusted peer were reported (once)."""

    def __post_init__(self) -> None:
        self._networks = [ipaddress.ip_network(item, strict=False) for item in self.trusted]

    def key(self, host: str) -> str | None:
        """The counting key of a client address (``address_key``), or None when exempt."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host  # a Unix socket path or the like: counted as it is
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self._networks):
            return None
        return address_key(host)

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
        _admitted = False
        _timer: asyncio.TimerHandle | None = None
        _waiting_for = ""
        """What the read deadline is for: ``head`` (or idle) or ``body``."""
        _write_timer: asyncio.TimerHandle | None = None

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
            self._arm("head", limits.head_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._write_timer is not None:
                self._write_timer.cancel()
                self._write_timer = None
            if self._key is not None:
                limits.release(self._key)
                self._key = None
            if self._admitted:
                super().connection_lost(exc)

        def on_headers_complete(self) -> None:
            self._arm("body", limits.body_timeout)
            super().on_headers_complete()
            if not limits.told_forwarding:
                _tell_untrusted_forwarding(self.headers, self.client, limits)

        def on_message_complete(self) -> None:
            if self._waiting_for == "body":  # not the idle deadline of a finished answer
                self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport.is_closing():
                return
            if self.cycle.response_complete:
                # nothing in progress (a pipelined request it started has its head in):
                # the next request's head is due, or the connection is idle
                self._arm("head", limits.head_timeout)

        def pause_writing(self) -> None:
            """The client does not take what it asked for: it has ``write_timeout`` to."""
            super().pause_writing()
            if self._write_timer is None:
                self._write_timer = self.loop.call_later(limits.write_timeout, self._stalled)

        def resume_writing(self) -> None:
            super().resume_writing()
            if self._write_timer is not None:
                self._write_timer.cancel()
                self._write_timer = None

        def _arm(self, waiting_for: str, seconds: float) -> None:
            self._disarm()
            self._waiting_for = waiting_for
            self._timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._waiting_for = ""

        def _expired(self) -> None:
            self._timer = None
            self._drop()

        def _stalled(self) -> None:
            self._write_timer = None
            self._drop()

        def _drop(self) -> None:
            # abort, not close: close waits for the write buffer to drain, which a client
            # that never reads would hold open (with the whole answer in memory) for ever
            if not self.transport.is_closing() or self.transport.get_write_buffer_size():
                limits.timed_out += 1
                self.transport.abort()

    return GuardedProtocol


def _tell_untrusted_forwarding(
    headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None, limits: ConnectionLimits
) -> None:
    """Say once that a proxy's forwarding headers are ignored because it is not trusted
    (every client behind it then shares its address: its limits and connection cap)."""
    if client is None or not any(name in FORWARDING_HEADERS for name, _ in headers):
        return
    if limits.key(client[0]) is None:  # a trusted proxy: uvicorn applies them
        return
    limits.told_forwarding = True
    log.warning(
        "a request from %s carries X-Forwarded-For or Forwarded, which are ignored: if a "
        "reverse proxy runs there, list it in server.trusted_proxies (until then every "
        "client behind it shares its address, its login limits and its connection cap)",
        client[0],
    )


def uvicorn_options(limits: ConnectionLimits) -> dict[str, Any]:
    """The uvicorn.Config arguments that go with ``limits``."""
    return {
        "http": guarded_protocol(limits),
        "ws": "none",  # an upgrade would hand the socket to a protocol without these limits
        "timeout_keep_alive": int(max(1, limits.head_timeout)),
        "timeout_graceful_shutdown": int(max(1, limits.body_timeout)),
        "proxy_headers": bool(limits.trusted),
        "forwarded_allow_ips": list(limits.trusted) if limits.trusted else None,
    }
