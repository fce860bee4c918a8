"""Who is asking, and may they: the gate in front of every route, and the checks for writes.

Default deny: ``Gate`` (ASGI middleware) lets a request through anonymously only on a path
in ``PUBLIC`` (status pages, badges, liveness, static files, login and first-run setup,
pings and real-user monitoring's beacons, and the Sentry SDKs' ingest URLs, whose DSN key is
checked by ``web.ingest``).
Everything else needs a session cookie or ``Authorization: Bearer <token>``; without one an
API path answers 401 and a page redirects to the login (or, before anybody exists, to the
first-run setup). So a route added later is protected without anyone remembering to.

While nobody exists yet, every request but a ping or ``/healthz`` must name this machine in its
Host header (``localhost`` or a loopback address): a web page elsewhere whose DNS name now
points at 127.0.0.1 (DNS rebinding) can then neither read a page nor reach the setup.

Writes (``require_write``) need a write scope: an admin's session or a write token. A write
made with a session cookie must also carry the session's CSRF token (form field ``csrf`` or
header ``X-CSRF-Token``); a bearer token needs none, since no browser sends it by itself.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request

from watchkeeper.auth import Auth, Principal
from watchkeeper.errors import StoreError
from watchkeeper.lanes import WEB
from watchkeeper.web.ingest import ingest_path

SESSION_COOKIE = "wk_session"
PUBLIC_PREFIXES = ("/status", "/badge/", "/static/", "/ping/")
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/setup", "/favicon.ico", "/rum", "/rum.js"})
PAGES_UNDER_API = frozenset({"/api/docs"})
"""Pages whose address is under ``/api/``: an anonymous visitor goes to the login, and errors
are pages, as for every other page."""
AGENT_PATHS = "/api/v1/agent/"
"""All an agent's token may reach (its assignment, its pushes)."""
_AGENT_ONLY = "an agent's token may only read its assignment and push results (/api/v1/agent/)"
ANY_HOST_PATHS = ("/healthz", "/ping/")
"""Answered whatever Host a request names, even before anybody exists (and ``/rum``,
``/rum.js``: browsers' beacons, answered ahead of the gate by ``web.rum.RumFastPath``)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or is_sentry_ingest(path)


def is_sentry_ingest(path: str) -> bool:
    """The SDKs' URLs (``/api/<id>/envelope/``, ``/store/``): a DSN key is their credential.
    ``web.ingest`` serves them ahead of this gate; should a request reach it, it passes,
    whatever its Host, and needs no CSRF token (it is no session's write)."""
    return path.startswith("/api/") and ingest_path(path) is not None


def is_api(path: str) -> bool:
    return (path.startswith("/api/") and path not in PAGES_UNDER_API) or path == "/metrics"


class Gate:
    """Resolve the principal of every request into ``scope["state"]["principal"]`` and turn
    away anonymous requests to anything not public."""

    def __init__(
        self,
        app: ASGIApp,
        auth: Auth,
        needs_setup: Callable[[], bool],
        headers: Mapping[str, str] | None = None,
        token_used: Callable[[Principal, Scope], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        self.auth = auth
        self.token_used = token_used
        """Told of every request a token authenticates (the activity log keeps the first
        of each hour)."""
        self.needs_setup = needs_setup
        self.headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, original_send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, original_send)
            return

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":  # security headers on every answer
                present = {name for name, _ in message.get("headers", ())}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message["headers"] = [*message.get("headers", ()), *extra]
            await original_send(message)

        path: str = scope["path"]
        try:
            if (
                not self.auth.users_known
                and not path.startswith(ANY_HOST_PATHS)
                and not is_sentry_ingest(path)
                and not loopback_host(scope)
                and await WEB.run(self.needs_setup)
            ):
                await _answer(
                    send,
                    403,
                    json.dumps({"detail": _FOREIGN_HOST}),
                    [(b"content-type", b"application/json")],
                )
                return
            principal = await self._principal(scope)
            scope.setdefault("state", {})["principal"] = principal
            if (
                principal is not None
                and principal.agent_location is not None
                and not path.startswith(AGENT_PATHS)
            ):
                await _answer(
                    send,
                    403,
                    json.dumps({"detail": _AGENT_ONLY}),
                    [(b"content-type", b"application/json")],
                )
                return
            if principal is not None or is_public(path):
                await self.app(scope, receive, send)
                return
            if is_api(path):
                await _answer(
                    send,
                    401,
                    json.dumps({"detail": "authentication required: a session or a bearer token"}),
                    [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                )
                return
            setup = await WEB.run(self.needs_setup)
        except StoreError as exc:
            await _answer(
                send,
                503,
                json.dumps({"detail": str(exc)}),
                [(b"content-type", b"application/json"), (b"retry-after", b"5")],
            )
            return
        if setup:
            location = "/setup"
        else:
            wanted = path + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
            location = "/login?next=" + quote(wanted, safe="")
        await _answer(send, 303, "", [(b"location", location.encode())])

    async def _principal(self, scope: Scope) -> Principal | None:
        headers = dict(scope.get("headers") or ())
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
            found = self.auth.cached(token) or await WEB.run(self.auth.token, token)
            if found is not None and self.token_used is not None:
                await self.token_used(found, scope)
            return found
        session = _cookie(headers.get(b"cookie", b"").decode("latin-1"), SESSION_COOKIE)
        if session:
            return self.auth.cached(session) or await WEB.run(self.auth.session, session)
        return None


_FOREIGN_HOST = (
    "nobody has been set up yet, and this request names another host: open Watchkeeper as "
    "http://127.0.0.1:PORT/ or http://localhost:PORT/ on its own machine"
)


def _host_of(value: str) -> str:
    """The host of a Host header or an origin's authority, without the port or brackets."""
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _is_loopback_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_host(scope: Scope) -> bool:
    """The request's Host header names this machine (a loopback name or address)."""
    return _names_loopback(dict(scope.get("headers") or ()))


def _names_loopback(headers: Mapping[bytes, bytes]) -> bool:
    host = headers.get(b"host", b"").decode("latin-1").strip()
    return bool(host) and _is_loopback_name(_host_of(host))


def local_request(scope: Scope) -> bool:
    """Made on this machine, to it: a loopback peer, a loopback Host, no proxy's forwarding
    header, and an Origin (if the browser sent one) naming that same host and port."""
    client = scope.get("client")
    try:
        peer_ok = client is not None and ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        peer_ok = False
    headers = dict(scope.get("headers") or ())
    if not peer_ok or not _names_loopback(headers):
        return False
    if any(name in headers for name in (b"x-forwarded-for", b"forwarded", b"x-real-ip")):
        return False  # relayed by a proxy on this machine: the browser may be anywhere
    origin = headers.get(b"origin")
    if origin is None:
        return True
    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    scheme, _, authority = origin.decode("latin-1").strip().lower().partition("://")
    return scheme in ("http", "https") and authority == host


async def _answer(send: Send, status: int, body: str, headers: list[tuple[bytes, bytes]]) -> None:
    data = body.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


# -- dependencies for routes ------------------------------------------------------------------
def principal_of(request: Request) -> Principal | None:
    found: Principal | None = request.scope.get("state", {}).get("principal")
    return found


def require_read(request: Request) -> Principal:
    """Anyone signed in (the gate has already turned away the rest)."""
    principal = principal_of(request)
    if principal is None:
        raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    if principal.agent_location is not None:
        raise HTTPException(403, _AGENT_ONLY)
    return principal


def require_agent(request: Request) -> Principal:
    """An agent's token (scope ``agent:<location>``)."""
    principal = principal_of(request)
    if principal is None:
        raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    if principal.agent_location is None:
        raise HTTPException(
            403, "this needs an agent's token: wk token create --scope agent --location L"
        )
    return principal


async def require_write(request: Request) -> Principal:
    """An admin's session (with its CSRF token) or a write token."""
    principal = require_read(request)
    if not principal.can_write:
        raise HTTPException(403, f"{principal.name} may only read: this needs write access")
    if principal.via == "session":
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            value = form.get("csrf")
            sent = value if isinstance(value, str) else None
        if not sent or principal.csrf is None or not hmac.compare_digest(sent, principal.csrf):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page and retry")
    return principal


Reader = Annotated[Principal, Depends(require_read)]
Writer = Annotated[Principal, Depends(require_write)]
