"""How an advisor's target is shown: ``host:port/db`` without user or password, and the
secrets in its address (to mask wherever text about it goes). One place for Postgres DSNs
(URLs and ``key=value`` strings, a password in the query too) and Redis URLs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit


@dataclass(frozen=True, slots=True)
class Shown:
    label: str
    """``host:port/db``: what messages and reports call the target."""
    secrets: tuple[str, ...]
    """The password as written, percent-decoded and percent-encoded."""
    problem: str | None = None
    """Why the address cannot be used as written (the advisor says so instead of trying)."""


_AT = "an '@' in the password must be written %40"


def _several_at(address: str) -> Shown | None:
    """A URL whose user part holds an unencoded '@': parsers split it at the wrong '@' and
    show part of the password as the host. Everything before the last '@' is secret."""
    if "://" not in address:
        return None
    rest = address.split("://", 1)[1]
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    if authority.count("@") < 2:
        return None
    credentials = authority.rsplit("@", 1)[0]
    password = credentials.split(":", 1)[1] if ":" in credentials else credentials
    return Shown("(an address with an unencoded '@')", _variants(password, credentials), _AT)


def _variants(*passwords: str | None) -> tuple[str, ...]:
    out: list[str] = []
    for password in passwords:
        if not password:
            continue
        for form in (password, unquote(password), quote(unquote(password), safe="")):
            if form and form not in out:
                out.append(form)
    return tuple(out)


def postgres(dsn: str) -> Shown:
    """A DSN (``postgresql://`` URL or libpq ``key=value`` string) as ``host:port/db``."""
    from psycopg import ProgrammingError, conninfo

    if (bad := _several_at(dsn)) is not None:
        return bad
    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except ProgrammingError:
        return Shown("postgres (an unreadable DSN)", _raw_passwords(dsn))
    password = str(parts.get("password") or "")
    host = str(parts.get("host") or parts.get("hostaddr") or "localhost")
    # without a dbname libpq connects to the database named as the user
    label = f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or parts.get('user') or ''}"
    return Shown(label, _variants(password))


def redis(url: str) -> Shown:
    """A ``redis://`` URL as ``host:port/db``."""
    if (bad := _several_at(url)) is not None:
        return bad
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return Shown("redis (an unreadable URL)", _raw_passwords(url))
    query = parse_qs(parts.query)
    secrets = _variants(parts.password, *query.get("password", []))
    if parts.scheme == "unix":
        return Shown(f"unix:{parts.path}", secrets)
    db = parts.path.strip("/") or (query.get("db") or ["0"])[0]
    return Shown(f"{parts.hostname or '127.0.0.1'}:{port or 6379}/{db}", secrets)


def _raw_passwords(text: str) -> tuple[str, ...]:
    """Best effort for an address no parser takes: ``:secret@`` and ``password=secret``."""
    found: list[str] = []
    if "@" in text and "://" in text:
        credentials = text.split("://", 1)[1].rsplit("@", 1)[0]
        if ":" in credentials:
            found.append(credentials.split(":", 1)[1])
    for word in text.replace("&", " ").replace("?", " ").split():
        if word.startswith("password="):
            found.append(word.removeprefix("password=").strip("'\""))
    return _variants(*found)
