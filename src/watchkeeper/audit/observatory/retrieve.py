"""Fetching what the Observatory grades, the way its retriever fetches it (scanner 1.4.8), with
the audit's own limits (the Fetcher's timeout and size caps):

1. ``http://host/`` and ``https://host/`` at once, each a session with its own cookie jar,
   following 301/302/303/307/308 by hand for at most 10 hops and recording every answer. A
   certificate that does not verify makes the session start over without checking (graded
   later as "invalid certificate"); any other failure leaves that session without an answer.
2. The session graded is the https one when it answered, else the http one.
3. ``/robots.txt`` and a CORS preflight (OPTIONS with a foreign Origin) on that session,
   following redirects as a plain client does; an answer other than 2xx counts as none (a
   preflight refused with 405 shows no CORS, whatever its headers). In a session that
   verified certificates these go out without the session's cookie jar, as in the scanner,
   so their cookies are not graded; in one that did not, they go through the jar and their
   2xx answers join the session's history (the scanner's quirk, kept so grades agree).
4. The base page's text, and the policies its meta tags set when it is HTML.

Ports other than 80 and 443 work (the Observatory itself only scans the default ones).
Redirects are followed wherever the Fetcher allows; a hop it refuses ends the chain there
(the refused URL is recorded with status 0 and the session keeps the last real answer).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from yarl import URL

from watchkeeper.audit._http import Fetcher, FetchError, Response
from watchkeeper.audit.observatory.cookie_jar import CookieJar
from watchkeeper.audit.observatory.html_scan import summarize
from watchkeeper.audit.observatory.model import Hop, Retrieval, Visit
from watchkeeper.audit.observatory.node_headers import NodeHeaders

PAGE_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ROBOTS_ACCEPT = "text/plain,*/*;q=0.8"
CORS_ORIGIN = "https://http-observatory.security.mozilla.org"
"""The Origin the preflight sends: the Observatory's own, so a site that allows it by name
grades the same here."""
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
HTML_TYPES = ("text/html", "application/xhtml+xml")
_JSON_START = frozenset('{["-0123456789tfn')


@dataclass
class _Session:
    start_url: str
    verified: bool = True
    jar: CookieJar = field(default_factory=CookieJar)
    history: list[Hop] = field(default_factory=list)
    response: Response | None = None
    error: str | None = None

    def visit(self) -> Visit:
        return Visit(
            start_url=self.start_url,
            response=self.response,
            history=tuple(self.history),
            verified=self.verified,
            cookies=self.jar.all(),
            error=self.error,
        )


class _CertificateRejected(Exception):
    """The https answer came only with certificate checks off (the scanner's 'verified')."""


async def retrieve(
    fetch: Fetcher,
    host: str,
    *,
    http_port: int | None = None,
    https_port: int | None = None,
    path: str = "/",
) -> Retrieval:
    """Everything the Observatory's tests need for ``host``. Never raises for what the site
    does: a site that does not answer gives a Retrieval with no session to grade."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    http_url = start_url("http", host, http_port, path)
    https_url = start_url("https", host, https_port, path)
    http, https = await asyncio.gather(_open(fetch, http_url), _open(fetch, https_url))
    graded = https if https.response is not None else http if http.response is not None else None
    if graded is None:
        return Retrieval(host, http.visit(), https.visit(), None, elapsed=loop.time() - started)

    assert graded.response is not None
    page = page_text(graded.response)
    robots_url = str(URL(graded.start_url).join(URL("/robots.txt")))
    robots = await _plain(fetch, graded, robots_url, "GET", {"Accept": ROBOTS_ACCEPT})
    if robots is not None and not graded.verified:
        graded.history.append(Hop(robots_url, robots.status))
    cors_url = graded.history[-1].url if graded.history else graded.start_url
    cors_headers = {
        "Accept": PAGE_ACCEPT,
        "Access-Control-Request-Method": "GET",
        "Origin": CORS_ORIGIN,
    }
    cors = await _plain(fetch, graded, cors_url, "OPTIONS", cors_headers)
    if cors is not None and not graded.verified:
        graded.history.append(Hop(cors_url, cors.status))

    content_type = (NodeHeaders(graded.response.headers).first("content-type") or "").split(";")[0]
    http_equiv: dict[str, tuple[str, ...]] = {}
    if content_type in HTML_TYPES and page:
        summary = summarize(page)
        http_equiv["content-security-policy"] = summary.csp
        if summary.referrer is not None:
            http_equiv["referrer-policy"] = (summary.referrer,)
    return Retrieval(
        host=host,
        http=http.visit(),
        https=https.visit(),
        auto="https" if graded is https else "http",
        page=page,
        http_equiv=http_equiv,
        cors=cors,
        cors_origin=CORS_ORIGIN,
        elapsed=loop.time() - started,
    )


def start_url(scheme: str, host: str, port: int | None, path: str) -> str:
    """``scheme://host[:port]path``, the port left out when it is the scheme's default."""
    name = f"[{host}]" if ":" in host and not host.startswith("[") else host
    default = 80 if scheme == "http" else 443
    suffix = "" if port in (None, default) else f":{port}"
    return f"{scheme}://{name}{suffix}{path if path.startswith('/') else '/' + path}"


def page_text(response: Response) -> str:
    """The body as the scanner's HTTP library hands it over: UTF-8 text, or, when the whole
    body parses as JSON, that value (a JSON string is text; anything else has no HTML)."""
    text = response.body.decode("utf-8", errors="replace")
    stripped = text.lstrip(" \t\n\r")
    if stripped[:1] in _JSON_START:
        try:
            value = json.loads(text, parse_constant=_reject)
        except (ValueError, RecursionError):
            return text
        return value if isinstance(value, str) else ""
    return text


def _reject(name: str) -> None:
    raise ValueError(name)


async def _open(fetch: Fetcher, url: str) -> _Session:
    session = _Session(url)
    try:
        await _record(fetch, session)
    except _CertificateRejected:
        session = _Session(url, verified=False)
        await _record(fetch, session)  # without verification it cannot be rejected again
    return session


async def _record(fetch: Fetcher, session: _Session) -> None:
    """Follow the chain from the session's URL, storing cookies and recording every answer."""
    current = session.start_url
    hops = 0
    while True:
        headers = {"Accept": PAGE_ACCEPT}
        cookie = session.jar.header_for(current)
        if cookie:
            headers["Cookie"] = cookie
        try:
            response = await fetch.get(current, headers=headers, verify=session.verified)
        except FetchError as exc:
            if exc.certificate and session.verified:
                raise _CertificateRejected from None
            if session.history and exc.refused:
                session.history.append(Hop(current, 0))
                session.error = exc.reason
                return
            session.response = None
            session.error = exc.reason
            return
        for value in response.all("set-cookie"):
            session.jar.store(value, current)
        session.history.append(Hop(current, response.status))
        session.response = response
        if hops >= MAX_REDIRECTS or response.status not in REDIRECTS:
            return
        target = _redirect_target(current, response)
        if target is None:
            session.response = None
            session.error = "a redirect to an unusable location"
            return
        hops += 1
        current = target


def _redirect_target(current: str, response: Response) -> str | None:
    # A redirect without Location resolves "undefined" against the page, as the scanner's
    # code does (it reads the missing header as that word).
    location = NodeHeaders(response.headers).first("location")
    try:
        target = URL(current).join(URL(location if location is not None else "undefined"))
    except ValueError:
        return None
    if target.scheme not in ("http", "https") or not target.host:
        return None
    if not target.path:
        target = target.with_path("/")
    return str(target)


async def _plain(
    fetch: Fetcher,
    session: _Session,
    url: str,
    method: str,
    headers: dict[str, str],
) -> Response | None:
    """A request as the scanner's second client makes it: redirects (any 3xx with a
    Location) followed up to 10, None on any failure. Unverified sessions send and keep
    cookies over https, verified ones neither."""
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        sending = dict(headers)
        with_jar = not session.verified and current.startswith("https:")
        if with_jar and (cookie := session.jar.header_for(current)):
            sending["Cookie"] = cookie
        try:
            response = await fetch.get(
                current, method=method, headers=sending, verify=session.verified
            )
        except FetchError:
            return None
        if with_jar:
            for value in response.all("set-cookie"):
                session.jar.store(value, current)
        location = NodeHeaders(response.headers).first("location")
        if not 300 <= response.status < 400 or not location:
            # that client counts only a 2xx answer: a preflight refused with 405 (nginx's
            # static files) reads as no CORS at all, whatever headers came with it
            return response if 200 <= response.status < 300 else None
        try:
            target = URL(current).join(URL(location))
        except ValueError:
            return None
        if response.status == 303 and method not in ("GET", "HEAD"):
            method = "GET"
        current = str(target)
    return None
