"""HSTS as the TLS scan reads it: one GET of ``/`` over the same TLS endpoint, with the same
SNI, reading the response head only (capped at ``MAX_HEAD`` bytes) and the first
Strict-Transport-Security header in it, parsed as RFC 6797 says (a header with a repeated
or malformed directive, or without max-age, is ignored by browsers: so it is absent here).

The scan fetches it itself so that ``scan`` alone answers "is HSTS on for this endpoint";
a caller that already has the https response (the headers audit) can skip the fetch
(``scan(..., hsts=False)``) and use ``parse`` on its header instead.
"""

from __future__ import annotations

import asyncio
import re

from watchkeeper import __version__
from watchkeeper.audit.tls import suites
from watchkeeper.audit.tls.model import Hsts
from watchkeeper.audit.tls.probes import Target

MAX_HEAD = 64 * 1024
PRELOAD_MIN_AGE = 31536000
"""hstspreload.org's submission rule: max-age of at least one year, includeSubDomains and
preload."""
_DIRECTIVE = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*("[^"]*"|[^;\s]*))?\s*')


def parse(value: str | None) -> Hsts:
    """One Strict-Transport-Security value (None: the header was not sent)."""
    if value is None:
        return Hsts(present=False)
    seen: dict[str, str | None] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        match = _DIRECTIVE.fullmatch(part)
        if match is None:
            return Hsts(
                present=False, header=value, problem=f"malformed directive '{part.strip()}'"
            )
        name = match.group(1).lower()
        if name in seen:
            return Hsts(present=False, header=value, problem=f"directive '{name}' repeated")
        given = match.group(2)
        seen[name] = given.strip('"') if given is not None else None
    age = seen.get("max-age")
    if age is None or not age.isdigit():
        return Hsts(present=False, header=value, problem="no valid max-age")
    return Hsts(
        present=True,
        max_age=int(age),
        include_subdomains="includesubdomains" in seen,
        preload="preload" in seen,
        header=value,
    )


async def fetch(target: Target, host_header: str) -> Hsts:
    """GET / over TLS and parse its HSTS header; a failure is the result's ``problem``."""
    request = (
        f"GET / HTTP/1.1\r\nHost: {host_header}\r\n"
        f"User-Agent: Watchkeeper-audit/{__version__}\r\nAccept: */*\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii", "replace")
    try:
        async with target.slot():
            reader, writer = await asyncio.open_connection(
                target.address,
                target.port,
                ssl=suites.context(ciphers="ALL"),
                server_hostname=target.server_name or "",
                ssl_handshake_timeout=target.timeout,
                limit=MAX_HEAD,
            )
            try:
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
            finally:
                writer.transport.abort()
    except TimeoutError:
        return Hsts(present=False, problem=f"no HTTP answer within {target.timeout:g}s")
    except asyncio.LimitOverrunError:
        return Hsts(present=False, problem=f"response head larger than {MAX_HEAD // 1024} KiB")
    except asyncio.IncompleteReadError:
        return Hsts(present=False, problem="the connection closed before a complete HTTP head")
    except OSError as exc:
        return Hsts(present=False, problem=f"no HTTP answer: {exc}".splitlines()[0][:200])
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        return Hsts(present=False, problem="the answer is not HTTP")
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "strict-transport-security":
            return parse(value.strip())  # RFC 6797 §8.1: only the first one counts
    return parse(None)
