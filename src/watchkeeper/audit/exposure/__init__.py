"""Exposure: what a site, a host and its databases give away to whoever asks.

    async with Fetcher(timeout=5, allowed_hosts=hosts([url])) as fetch:
        findings = await exposure(url, fetch=fetch, ports=True,
                                  databases=["postgresql://db.internal:5432/postgres"])

``exposure(target, *, fetch, ports=False, databases=(), wait=3.0)``

- ``target``: a URL (``https://shop.example/``): its site is probed for well-known leaks
  (``_leaks``: ``.git``, ``.env``, status pages, backups, listings, stack traces), or a bare
  host name or address, for the port scan and databases only.
- ``ports``: ``True`` scans ``DEFAULT_PORTS`` of the target's host, a list scans those;
  ``False`` (the default) scans nothing. A bounded connect scan (``_ports``), of that one
  host only. An open PostgreSQL, MySQL or Redis port (5432, 3306, 6379) is then checked as a
  database too, unless ``databases`` already names it.
- ``databases``: URLs of databases to check for missing protection (``_databases``:
  ``trust`` and plaintext passwords in PostgreSQL, Redis without a password or protected
  mode, MySQL accounts without a password).
- ``fetch``: the audit's ``Fetcher``; its ``allowed_hosts`` is the only place requests go.
- ``wait``: seconds for each connection of the port scan and the database checks (the
  fetcher has its own).

Every finding has source ``exposure`` and a stable ``rule``. Raises ``FetchError`` (one line)
when the target is a URL whose first request gets no HTTP answer, ``ValueError`` (one line)
for a database URL of an unknown kind, before anything is sent, and ``OSError`` when the
host to scan has no address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from yarl import URL

from watchkeeper.audit._http import Fetcher
from watchkeeper.audit.exposure._databases import (
    DEFAULT_URLS,
    address_of,
    check_databases,
    validate,
)
from watchkeeper.audit.exposure._leaks import PROBES, site_leaks
from watchkeeper.audit.exposure._ports import (
    DEFAULT_PORTS,
    SERVICES,
    WAIT,
    open_ports,
    scan_ports,
)
from watchkeeper.audit.exposure._traces import find_trace
from watchkeeper.findings import Finding, ranked

__all__ = [
    "DEFAULT_PORTS",
    "PROBES",
    "SERVICES",
    "check_databases",
    "exposure",
    "find_trace",
    "open_ports",
    "scan_ports",
    "site_leaks",
]


async def exposure(
    target: str,
    *,
    fetch: Fetcher,
    ports: bool | Iterable[int] = False,
    databases: Iterable[str] = (),
    wait: float = 3.0,
) -> list[Finding]:
    """Every exposure finding for ``target``, most important first (see the module)."""
    named = [validate(url) for url in databases]
    is_url = "://" in target
    host = URL(target).host if is_url else target.strip().strip("[]")
    if not host:
        raise ValueError(f"'{target[:200]}' names no host")
    wanted: tuple[int, ...] = ()
    if ports is True:
        wanted = DEFAULT_PORTS
    elif ports is not False:
        wanted = tuple(sorted({int(port) for port in ports}))

    async def scanned() -> list[Finding]:
        if not wanted:
            return []
        found = await scan_ports(host, ports=wanted, wait=min(wait, WAIT))
        covered = {address_of(url) for url in named}
        more = [
            template.format(host=_url_host(host))
            for port, template in DEFAULT_URLS.items()
            if any(f.evidence.get("port") == port for f in found) and (host, port) not in covered
        ]
        return found + (await check_databases(more, wait=wait) if more else [])

    async def site() -> list[Finding]:
        return await site_leaks(target, fetch=fetch) if is_url else []

    results = await asyncio.gather(
        site(), scanned(), check_databases(named, wait=wait), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return ranked(f for result in results if isinstance(result, list) for f in result)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
