"""Keep secrets out of what Watchkeeper prints, logs, stores and serves.

Two kinds of secret:

- values the config took from ``${VAR}`` or ``${file:...}``: ``redact`` replaces each with
  ``***``. It runs before text is shortened or quoted, so neither a cut-off prefix nor an
  escaped form of a secret can slip through;
- secrets written straight into a URL: ``mask_url`` hides the password of its userinfo
  (``https://user:***@host``; a lone user on http(s), ``https://***@host``, is a token) and
  the values of query parameters whose names say secret (``?api_key=***``: see
  ``is_secret_name``). ``route_origin`` keeps only ``scheme://host`` of a notification URL,
  whose path often is the token (``https://hooks.slack.com/services/T0/B0/XXXX``).

The real URL is still what requests are made with; these functions only shape what is shown.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import unquote

MASK = "***"

SECRET_NAMES = frozenset(
    {
        "token",
        "key",
        "apikey",
        "api_key",
        "access_token",
        "accesstoken",
        "refresh_token",
        "id_token",
        "auth",
        "authorization",
        "auth_token",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "pass",
        "pwd",
        "sig",
        "signature",
        "credential",
        "credentials",
        "private_token",
        "jwt",
        "hmac",
        "session",
        "sessionid",
    }
)
SECRET_SUFFIXES = (
    "_token",
    "_key",
    "_secret",
    "_password",
    "_pass",
    "_sig",
    "_signature",
    "_credential",
    "_credentials",
)
_CAMEL_SUFFIXES = ("Token", "Key", "Secret", "Password", "Signature")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_AUTHORITY_END = frozenset("/?#\\ \t\r\n'\"<>`")
_VALUE_END = frozenset("&#; \t\r\n'\"<>`")
_NAME_START = frozenset("?&;#")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-%[]")
_TOKEN_USER_SCHEMES = frozenset({"http", "https", "ws", "wss"})


def redact(text: str, secrets: Collection[str]) -> str:
    """Replace every secret in ``text`` with ``***`` (longest first)."""
    if not secrets:
        return text
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def is_secret_name(name: str) -> bool:
    """Does a query parameter called ``name`` hold a secret? ``token``, ``api_key``,
    ``X-Amz-Signature``, ``accessToken``, anything ending in ``_token``/``_key``/``_secret``
    (case and ``-``/``_`` do not matter)."""
    decoded = unquote(name)
    plain = decoded.lower().replace("-", "_")
    if plain in SECRET_NAMES or plain.endswith(SECRET_SUFFIXES):
        return True
    return decoded.endswith(_CAMEL_SUFFIXES) and len(decoded) > 3


def mask_url(url: str) -> str:
    """``url`` with its userinfo password and secret query values shown as ``***``.

    Any text works: each ``scheme://`` URL in it, and each ``?name=value`` / ``&name=value``
    pair, is masked (an error message that quotes a URL is cleaned the same way). Linear in
    the length of the text; text with nothing to hide comes back unchanged.
    """
    if "://" in url:
        url = _mask_userinfo(url)
    if "=" in url:
        url = _mask_query_values(url)
    return url


def route_origin(url: str) -> str:
    """``scheme://host[:port]`` of a notification URL: no userinfo, path, query or fragment
    (a webhook's path or query is often its token)."""
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme or not set(scheme) <= _SCHEME_CHARS:
        return "…"
    end = next((i for i, char in enumerate(rest) if char in _AUTHORITY_END), len(rest))
    host = rest[:end].rpartition("@")[2]
    return f"{scheme}://{host}" if host else f"{scheme}://…"


def _mask_userinfo(text: str) -> str:
    pieces: list[str] = []
    done = 0
    at = text.find("://")
    while at != -1:
        # each scan stops at the next "://" (its '/' ends an authority, its ':' a scheme), so
        # every character is walked over at most twice
        start = at
        while start > 0 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        authority = end = at + 3
        while end < len(text) and text[end] not in _AUTHORITY_END:
            end += 1
        userinfo, separator, _ = text[authority:end].rpartition("@")
        if separator and userinfo and authority >= done:
            user, _, password = userinfo.partition(":")
            if password:
                shown = f"{user}:{MASK}"
            elif text[start:at].lower() in _TOKEN_USER_SCHEMES:
                shown = MASK  # https://TOKEN@host, https://TOKEN:@host
            else:
                shown = userinfo  # postgresql://app@db: a user name, no secret
            pieces.append(text[done:authority] + shown)
            done = authority + len(userinfo)
        at = text.find("://", at + 3)
    pieces.append(text[done:])
    return "".join(pieces)


def _mask_query_values(text: str) -> str:
    pieces: list[str] = []
    done = 0
    equals = text.find("=")
    while equals != -1:
        start = equals
        while start > 0 and text[start - 1] in _NAME_CHARS:
            start -= 1
        name = text[start:equals]
        if name and start > 0 and text[start - 1] in _NAME_START and is_secret_name(name):
            end = equals + 1
            while end < len(text) and text[end] not in _VALUE_END:
                end += 1  # a value may hold '=' (base64): it ends at '&', '#', ';' or a space
            if end > equals + 1 and text[equals + 1 : end] != MASK:
                pieces.append(text[done : equals + 1] + MASK)
                done = end
            equals = text.find("=", end)
        else:
            equals = text.find("=", equals + 1)
    pieces.append(text[done:])
    return "".join(pieces)
