"""Where an address can be reached from, and what that does to a finding's severity.

An open Redis port is critical on a public address, a lesser worry on a private network and
a local one on loopback: ``scope`` sorts an address into ``loopback``, ``private`` (RFC 1918,
unique-local, link-local, CGNAT) or ``public``, and ``lowered`` takes a severity down one
step for each of the last two. Host names are resolved once, with a deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Literal

from watchkeeper.findings import Severity

Scope = Literal["loopback", "private", "public"]

MAX_LOCAL_ADDRESSES = 4
"""This machine's own non-loopback addresses tried at most (see ``local_addresses``)."""


def scope(address: str) -> Scope:
    """``loopback``, ``private`` or ``public`` for an IP address (a name counts as public)."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return "loopback" if address.lower() in ("localhost", "localhost.") else "public"
    if ip.is_loopback:
        return "loopback"
    if ip.is_private or ip.is_link_local or ip in ipaddress.ip_network("100.64.0.0/10"):
        # 192.0.2.0/24 and other documentation ranges count as private in Python
        return "private"
    return "public"


def lowered(severity: Severity, where: Scope) -> Severity:
    """``severity`` as it is for a public address, one step lower for a private or a
    loopback one (reachable only from inside the network, or the machine)."""
    if where == "public" or severity == Severity.info:
        return severity
    return Severity.warning if severity == Severity.critical else Severity.info


async def resolve(host: str, wait: float) -> str:
    """The first address ``host`` resolves to (an IP address is returned as is). Raises
    OSError with a one-line reason."""
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare)
        return bare
    except ValueError:  # not an address: a host name, resolved below
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(wait):
            found = await loop.getaddrinfo(bare, None, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise OSError(f"{host}: no DNS answer within {wait:g}s") from None
    except socket.gaierror:
        raise OSError(f"{host}: name not found") from None
    if not found:
        raise OSError(f"{host}: name not found")
    return str(found[0][4][0])


def local_addresses() -> list[str]:
    """This machine's own addresses that are not loopback (nor link-local IPv6), at most
    ``MAX_LOCAL_ADDRESSES``: a server bound to one of them is reachable from the network,
    and a connection made to it arrives from a non-loopback source address."""
    import psutil

    found: list[str] = []
    for addresses in psutil.net_if_addrs().values():
        for entry in addresses:
            if entry.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            text = entry.address.split("%")[0]
            try:
                ip = ipaddress.ip_address(text)
            except ValueError:
                continue
            if ip.is_loopback or ip.is_link_local or text in found:
                continue
            found.append(text)
    return found[:MAX_LOCAL_ADDRESSES]


def is_loopback(host: str) -> bool:
    return scope(host) == "loopback"
