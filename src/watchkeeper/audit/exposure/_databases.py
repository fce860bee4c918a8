"""Databases reachable without protection, by URL scheme: ``postgresql://`` (or
``postgres://``), ``mysql://`` (or ``mariadb://``), ``redis://`` (or ``rediss://``, checked
over plain TCP). A URL's user and password, when given, let the check read the server's
configuration (``pg_hba_file_rules``, ``mysql.user``, ``CONFIG GET``); without them only what a
stranger sees is judged. Passwords never appear in a finding: subjects are
``scheme://host:port``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from watchkeeper.audit.exposure._mysql import check_mysql
from watchkeeper.audit.exposure._postgres import check_postgres
from watchkeeper.audit.exposure._redis import check_redis
from watchkeeper.findings import Finding

Check = Callable[..., Awaitable[list[Finding]]]

CHECKS: dict[str, Check] = {
    "postgresql": check_postgres,
    "postgres": check_postgres,
    "mysql": check_mysql,
    "mariadb": check_mysql,
    "redis": check_redis,
    "rediss": check_redis,
}
DEFAULT_URLS: dict[int, str] = {
    5432: "postgresql://{host}:5432/postgres",
    3306: "mysql://{host}:3306",
    6379: "redis://{host}:6379",
}
"""What an open port of the scan is checked as, when no URL names it."""


def validate(url: str) -> str:
    """``url`` if it names a database this audit checks; ValueError (one line) if not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"'{_shown(url)}' is not a database URL") from None
    if parts.scheme not in CHECKS or not parts.hostname:
        raise ValueError(
            f"'{_shown(url)}' is not a postgresql://, mysql:// or redis:// URL with a host"
        )
    del port
    return url


_DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "mysql": 3306, "mariadb": 3306}


def address_of(url: str) -> tuple[str, int]:
    """The (host, port) a valid database URL names, its scheme's port by default."""
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port or _DEFAULT_PORTS.get(parts.scheme, 6379))


async def check_databases(urls: Iterable[str], *, wait: float = 3.0) -> list[Finding]:
    """The findings of every database URL, checked side by side."""
    checked = [validate(url) for url in urls]
    results = await asyncio.gather(
        *(CHECKS[urlsplit(url).scheme](url, wait=wait) for url in checked)
    )
    return [finding for result in results for finding in result]


def _shown(url: str) -> str:
    """``url`` without its password, cut to 200 characters, for an error line."""
    scheme, _, rest = url.partition("://")
    if "@" in rest:
        credentials, _, tail = rest.rpartition("@")
        rest = f"{credentials.split(':')[0]}:***@{tail}" if ":" in credentials else rest
    return f"{scheme}://{rest}"[:200] if rest else url[:200]
