"""Name resolution for the probes: c-ares through aiodns — the hosts file, then DNS — on the
event loop itself.

Not ``getaddrinfo`` in threads: a handful of names whose DNS never answers would tie up the
few threads every lookup (and, under uvloop, every connect) waits for, and take down healthy
monitors with them. c-ares keeps its own timeouts and needs no thread at all.

aiodns is imported by the first lookup, not with this module: loading a config (``wk validate``)
imports the check kinds for their settings and never resolves a name.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiodns

_REASONS = {  # pycares.errno codes
    "ARES_ENOTFOUND": "no such host",
    "ARES_ENONAME": "no such host",
    "ARES_ENODATA": "no address records",
    "ARES_ETIMEOUT": "no answer from the DNS servers",
    "ARES_ECONNREFUSED": "could not contact the DNS servers",
    "ARES_ESERVFAIL": "DNS server failure (SERVFAIL)",
    "ARES_EREFUSED": "DNS server refused the query",
}
_TIMEOUT = 2.0  # per try; the check's own timeout bounds the whole lookup
_TRIES = 3

Address = tuple[socket.AddressFamily, tuple[str, int] | tuple[str, int, int, int]]


class ResolveError(OSError):
    """A name did not resolve; ``str()`` is the one-line reason."""


class NameResolver:
    """One per engine run, shared by every check; ``nameservers`` (``ip[:port]``) replace the
    system's ``/etc/resolv.conf`` servers when given."""

    def __init__(self, nameservers: Sequence[str] = ()) -> None:
        self._nameservers = list(nameservers)
        self._resolver: aiodns.DNSResolver | None = None

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[Address]:
        """The addresses of ``host``, IPv6 and IPv4 as the system orders them."""
        import aiodns

        if self._resolver is None:  # made on first use, inside the running loop
            self._resolver = aiodns.DNSResolver(
                nameservers=self._nameservers or None, timeout=_TIMEOUT, tries=_TRIES
            )
        try:
            result = await self._resolver.getaddrinfo(
                host, family=family, port=port, type=socket.SOCK_STREAM
            )
        except aiodns.error.DNSError as exc:
            code = exc.args[0] if exc.args else None
            detail = _reason(code) or str(exc.args[1] if len(exc.args) > 1 else exc)
            raise ResolveError(f"cannot resolve {host} ({detail.lower()})") from None
        addresses: list[Address] = []
        for node in result.nodes:
            raw = node.addr
            text = raw[0].decode() if isinstance(raw[0], bytes) else str(raw[0])
            address: tuple[str, int] | tuple[str, int, int, int] = (
                (text, raw[1], raw[2], raw[3]) if len(raw) == 4 else (text, raw[1])
            )
            addresses.append((socket.AddressFamily(node.family), address))
        if not addresses:
            raise ResolveError(f"cannot resolve {host} (no address records)")
        return addresses

    async def close(self) -> None:
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None


def _reason(code: object) -> str | None:
    import pycares

    for name, reason in _REASONS.items():
        if code == getattr(pycares.errno, name):
            return reason
    return None
