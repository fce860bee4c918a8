"""DSN keys: where an SDK puts one, how a DSN is written, and new keys.

A DSN is ``http(s)://<public_key>@<host:port>/<project_id>``; the SDK sends the key as

    X-Sentry-Auth: Sentry sentry_version=7, sentry_client=..., sentry_key=<key>
    Authorization: Sentry sentry_key=<key>        (the same form, some proxies and SDKs)
    ?sentry_key=<key>                             (browsers: no custom headers, no preflight)
    {"dsn": "https://<key>@host/1", ...}          (an envelope's header)

in that order of preference. A key is never logged; it is compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs, urlsplit


def new_key() -> str:
    """A fresh public key: 32 hex digits, like Sentry's."""
    return secrets.token_hex(16)


def same_key(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def from_auth_header(value: str) -> str | None:
    """The ``sentry_key`` of an ``X-Sentry-Auth`` (or ``Authorization: Sentry ...``) value."""
    text = value.strip()
    if text[:7].lower() == "sentry ":
        text = text[7:]
    elif text[:4].lower() == "dsn ":
        return from_dsn(text[4:].strip())[0]
    for part in text.split(","):
        name, _, found = part.strip().partition("=")
        if name.strip().lower() == "sentry_key":
            return found.strip().strip('"') or None
    return None


def from_query(query: str) -> str | None:
    if "sentry_key" not in query:
        return None
    found = parse_qs(query, max_num_fields=50).get("sentry_key")
    return found[0] if found and found[0] else None


def from_dsn(dsn: object) -> tuple[str | None, str | None]:
    """(key, project id) of a DSN; (None, None) if it is not one."""
    if not isinstance(dsn, str) or len(dsn) > 2000:
        return None, None
    try:
        parts = urlsplit(dsn)
        key = parts.username
    except ValueError:
        return None, None
    project = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return (key or None), (project if project.isdigit() else None)


def dsn(base_url: str, key: str, project_id: int) -> str:
    """``http://<key>@host:port/<id>`` from the address SDKs reach Watchkeeper at
    (``http://host:port``, with a path prefix if it is served under one)."""
    parts = urlsplit(base_url.rstrip("/"))
    return f"{parts.scheme}://{key}@{parts.netloc}{parts.path}/{project_id}"
