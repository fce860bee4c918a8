"""Set-Cookie parsing and the cookie jar of one retrieval, as the scanner's cookie library keeps
them (RFC 6265 with its ``__Secure-``/``__Host-`` prefix rules): a cookie that fails to parse,
names a public suffix or another host as its Domain, or breaks its prefix's rule is dropped; a
cookie set again under the same name, domain and path replaces the old one; cookies that have
expired stay in the jar (the scanner grades them too).

Parsing splits on ``;`` and ``=`` by index: linear in the header, no regular expressions.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from watchkeeper.audit.observatory.domains import cookie_domain_suffix, is_ip
from watchkeeper.audit.observatory.jsstring import trim

MAX_COOKIES = 3000
"""A jar stops taking cookies past this many (a hostile site could send thousands)."""
_CONTROL = frozenset(chr(code) for code in range(0x20))
_TERMINATORS = ("\n", "\r", "\0")


@dataclass(frozen=True, slots=True)
class Cookie:
    name: str
    value: str
    domain: str | None = None
    """The Domain attribute (lower case, leading dot removed), then the host once stored."""
    path: str | None = None
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None
    """"strict", "lax" or "none" as given; None when absent or unrecognised."""
    expires: str | None = None
    """The Expires attribute as sent (kept for the report, not interpreted)."""
    max_age: int | None = None
    host_only: bool | None = None
    path_is_default: bool = False
    extensions: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The fields the scanner reports for a cookie (its ``cookies`` test data)."""
        data: dict[str, Any] = {"domain": self.domain}
        if self.expires is not None:
            data["expires"] = self.expires
        if self.http_only:
            data["httponly"] = True
        if self.max_age is not None:
            data["max-age"] = self.max_age
        data["path"] = self.path
        data["port"] = None
        if self.same_site is not None:
            data["samesite"] = self.same_site
        if self.secure:
            data["secure"] = True
        return data


def parse_set_cookie(header: str) -> Cookie | None:
    """One Set-Cookie value, or None when it has no usable name=value pair."""
    text = trim(header)
    if not text:
        return None
    semicolon = text.find(";")
    pair = text if semicolon == -1 else text[:semicolon]
    for terminator in _TERMINATORS:
        cut = pair.find(terminator)
        if cut != -1:
            pair = pair[:cut]
    equals = pair.find("=")
    if equals <= 0:
        return None
    name = trim(pair[:equals])
    value = trim(pair[equals + 1 :])
    if any(char in _CONTROL for char in name) or any(char in _CONTROL for char in value):
        return None
    cookie: dict[str, Any] = {"name": name, "value": value}
    extensions: list[str] = []
    if semicolon != -1:
        for raw in text[semicolon + 1 :].split(";"):
            attribute = trim(raw)
            if not attribute:
                continue
            key, has_value, rest = attribute.partition("=")
            key = trim(key).lower()
            given = trim(rest) if has_value else ""
            _apply_attribute(cookie, extensions, key, given, attribute)
    if extensions:
        cookie["extensions"] = tuple(extensions)
    return Cookie(**cookie)


def _apply_attribute(
    cookie: dict[str, Any], extensions: list[str], key: str, value: str, raw: str
) -> None:
    if key == "expires":
        if value:
            cookie["expires"] = value
    elif key == "max-age":
        digits = value[1:] if value.startswith("-") else value
        if digits and digits.isascii() and digits.isdigit():
            cookie["max_age"] = int(value)
    elif key == "domain":
        domain = value[1:] if value.startswith(".") else value
        if domain:
            cookie["domain"] = domain.lower()
    elif key == "path":
        cookie["path"] = value if value.startswith("/") else None
    elif key == "secure":
        cookie["secure"] = True
    elif key == "httponly":
        cookie["http_only"] = True
    elif key == "samesite":
        lowered = value.lower()
        cookie["same_site"] = lowered if lowered in ("strict", "lax", "none") else None
    else:
        extensions.append(raw)


def invalid_same_site(header: str) -> bool:
    """Whether a raw Set-Cookie carries a SameSite attribute with no value or an unknown one
    (the scanner looks at the raw header for this, before any parsing)."""
    for part in trim(header).split(";"):
        pieces = trim(part).split("=")
        if trim(pieces[0]).lower() != "samesite":
            continue
        value = pieces[1] if len(pieces) > 1 else ""
        if not value or trim(value).lower() not in ("lax", "strict", "none"):
            return True
    return False


@dataclass
class CookieJar:
    """Cookies stored from the answers of one session, in the order first stored."""

    _cookies: dict[tuple[str, str, str], Cookie] = field(default_factory=dict)

    def store(self, header: str, url: str) -> Cookie | None:
        """Store one Set-Cookie received from ``url``; the cookie as stored, or None when
        it was dropped."""
        cookie = parse_set_cookie(header)
        if cookie is None or len(self._cookies) >= MAX_COOKIES:
            return None
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if cookie.domain:
            if not _is_ipv6(cookie.domain) and cookie_domain_suffix(cookie.domain) is None:
                return None
            if not domain_match(host, cookie.domain):
                return None
            cookie = replace(cookie, host_only=False)
        else:
            cookie = replace(cookie, host_only=True, domain=host)
        if not cookie.path or not cookie.path.startswith("/"):
            cookie = replace(cookie, path=default_path(parts.path), path_is_default=True)
        if cookie.name.startswith("__Secure-") and not cookie.secure:
            return None
        if cookie.name.startswith("__Host-") and not (
            cookie.secure and cookie.host_only and cookie.path == "/"
        ):
            return None
        assert cookie.domain is not None and cookie.path is not None
        self._cookies[(cookie.domain, cookie.path, cookie.name)] = cookie
        return cookie

    def all(self) -> tuple[Cookie, ...]:
        """Every cookie stored, grouped by domain then path as the scanner lists them."""
        order: dict[str, dict[str, list[Cookie]]] = {}
        for (domain, path, _name), cookie in self._cookies.items():
            order.setdefault(domain, {}).setdefault(path, []).append(cookie)
        return tuple(
            cookie for paths in order.values() for cookies in paths.values() for cookie in cookies
        )

    def header_for(self, url: str) -> str | None:
        """The Cookie header a request for ``url`` carries: the cookies whose domain, path and
        Secure flag fit it, less those a Max-Age of 0 or less deleted."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        path = parts.path or "/"
        secure = parts.scheme == "https"
        chosen = [
            cookie
            for cookie in self._cookies.values()
            if (cookie.domain == host if cookie.host_only else domain_match(host, cookie.domain))
            and _path_match(path, cookie.path or "/")
            and (secure or not cookie.secure)
            and (cookie.max_age is None or cookie.max_age > 0)
        ]
        if not chosen:
            return None
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in chosen)


def domain_match(host: str, domain: str | None) -> bool:
    """RFC 6265 §5.1.3: the same name, or a subdomain of it when ``host`` is not an IP."""
    if domain is None:
        return False
    if host == domain:
        return True
    return host.endswith("." + domain) and not is_ip(host)


def default_path(path: str) -> str:
    """RFC 6265 §5.1.4: the request path up to, not including, its last slash."""
    if not path.startswith("/"):
        return "/"
    cut = path.rfind("/")
    return "/" if cut == 0 else path[:cut]


def _path_match(request_path: str, cookie_path: str) -> bool:
    if request_path == cookie_path:
        return True
    if request_path.startswith(cookie_path):
        return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    return False


def _is_ipv6(name: str) -> bool:
    try:
        return ipaddress.ip_address(name.strip("[]")).version == 6
    except ValueError:
        return False
