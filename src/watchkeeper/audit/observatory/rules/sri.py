"""Subresource integrity: scripts from another site should carry an ``integrity`` hash and
come over https. A script loaded over http from elsewhere, with no hash, is the worst case (-50:
anyone on the path can replace it); a hashed one over http still loses 20; an unhashed one over
https loses 5. Scripts of the same registrable domain are the site's own and need none."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from yarl import URL

from watchkeeper.audit.observatory.charts import Result
from watchkeeper.audit.observatory.domains import registrable_domain
from watchkeeper.audit.observatory.html_scan import Script, start_tags
from watchkeeper.audit.observatory.model import Outcome, Retrieval

NAME = "subresource-integrity"
EXPECTATION = Result.sri_external_secure
HTML_TYPES = ("text/html", "application/xhtml+xml")
WORST_LAST = (
    Result.sri_all_secure,
    Result.sri_external_secure,
    Result.sri_external_insecure,
    Result.sri_missing_external_secure,
    Result.sri_missing_external_insecure,
    Result.sri_not_html,
)
PASSING = frozenset(
    {
        Result.sri_all_secure,
        Result.sri_external_secure,
        Result.sri_not_html,
        Result.sri_same_origin,
        Result.sri_no_scripts,
        EXPECTATION,
    }
)
MAX_DATA = 32_768
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_C0_OR_SPACE = "".join(chr(code) for code in range(0x21))


def _worse(new: Result, old: Result | None) -> Result:
    if old is None or WORST_LAST.index(new) > WORST_LAST.index(old):
        return new
    return old


def run(retrieval: Retrieval) -> Outcome:
    data: dict[str, dict[str, str | None]] = {}
    session = retrieval.session
    if session is None or session.response is None:
        return Outcome(Result.sri_no_scripts, False, {"data": data})
    mime = (session.headers.first("content-type") or "").split(";")[0]
    result: Result | None = None
    if mime not in HTML_TYPES:
        result = Result.sri_not_html
    else:
        scripts, base = _scripts(retrieval.page or "")
        site_domain = registrable_domain(retrieval.host)
        https_page = session.scheme == "https"
        foreign_seen = False
        for script in scripts:
            src = _resolved(script.src, base)
            if not src:
                continue
            relative_protocol = src.startswith("//") and src[2:3] not in ("/", "")
            full = src.startswith(("http://", "https://"))
            relative_origin = not relative_protocol and not full
            same_domain = True
            if full:
                same_domain = registrable_domain(_host(src)) == site_domain
            secure_origin = relative_origin or (same_domain and not relative_protocol)
            if not secure_origin:
                foreign_seen = True
            secure_scheme = (full and src.startswith("https:")) or (relative_origin and https_page)
            integrity = script.integrity
            if not secure_origin:
                data[src] = {"crossorigin": _cross_origin(script), "integrity": integrity}
                if integrity and not secure_scheme:
                    result = _worse(Result.sri_external_insecure, result)
                elif not integrity and secure_scheme:
                    result = _worse(Result.sri_missing_external_secure, result)
                elif not integrity:
                    result = _worse(Result.sri_missing_external_insecure, result)
            elif integrity and secure_scheme and result is None:
                result = Result.sri_all_secure
        if not scripts:
            result = Result.sri_no_scripts
        elif result is None:
            result = Result.sri_external_secure if foreign_seen else Result.sri_same_origin
    extra: dict[str, Any] = {"data": data if len(json.dumps(data)) < MAX_DATA else {}}
    return Outcome(result, result in PASSING, extra)


def _scripts(page: str) -> tuple[list[Script], URL | None]:
    """The page's scripts, and the absolute URL its first ``<base href>`` sets (relative
    script URLs resolve against it; without one they stay as written)."""
    scripts: list[Script] = []
    base: URL | None = None
    base_seen = False
    for tag in start_tags(page):
        if tag.name == "script":
            scripts.append(
                Script(
                    tag.attributes.get("src"),
                    tag.attributes.get("integrity"),
                    tag.attributes.get("crossorigin"),
                )
            )
        elif tag.name == "base" and not base_seen and "href" in tag.attributes:
            base_seen = True
            absolute = _absolute(tag.attributes["href"])
            base = URL(absolute) if absolute else None
    return scripts, base


def _resolved(src: str | None, base: URL | None) -> str:
    """What ``script.src`` reads: the URL made absolute (normalised), or the attribute as
    written when it cannot be."""
    if src is None:
        return ""
    absolute = _absolute(src)
    if absolute is not None:
        return absolute
    if base is not None:
        try:
            return str(base.join(URL(src.strip(_C0_OR_SPACE))))
        except ValueError:
            return src
    return src


def _absolute(value: str) -> str | None:
    """``value`` as an absolute URL with its scheme and host in lower case, or None."""
    text = value.strip(_C0_OR_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME.match(text)
    if match is None:
        return None
    scheme = match.group()[:-1].lower()
    rest = text[match.end() :]
    if scheme not in ("http", "https", "ws", "wss", "ftp"):
        return f"{scheme}:{rest}"
    rest = rest.lstrip("/\\")
    end = min((i for i in (rest.find(c) for c in "/?#\\") if i != -1), default=len(rest))
    authority, tail = rest[:end], rest[end:].replace("\\", "/")
    host = authority.rsplit("@", 1)[-1].lower()
    if not host or host.startswith(":"):
        return None
    if not tail.startswith("/"):
        tail = "/" + tail
    return f"{scheme}://{authority[: len(authority) - len(host)]}{host}{tail}"


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _cross_origin(script: Script) -> str | None:
    if script.crossorigin is None:
        return None
    return "use-credentials" if script.crossorigin.lower() == "use-credentials" else "anonymous"
