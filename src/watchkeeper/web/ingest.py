"""Sentry's ingest URLs as plain ASGI, ahead of the framework and the gate:

    POST    /api/<project_id>/envelope/     envelopes (every current SDK)
    POST    /api/<project_id>/store/        one event as JSON (older SDKs)
    OPTIONS either                          a browser's CORS preflight

An SDK authenticates with its DSN key (``errortrack.keys``), never a session or a token, so
these paths need no login, no CSRF token and set no cookie. They take envelopes, not JSON,
so they are not in the OpenAPI document. Served before every layer of FastAPI (its
telemetry check, error and body-limit middleware, routing, the gate): in-process, a Python
SDK's event costs about 125 µs of CPU here and 390 µs as a FastAPI route behind the gate.

CORS: a request with an ``Origin`` the project allows (its ``origins``; any by default) is
answered with ``Access-Control-Allow-Origin`` set to that origin; a preflight learns the
methods and headers the SDKs use. Browser SDKs send ``text/plain`` envelopes with
``?sentry_key=``, which needs no preflight at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import Message, Receive, Scope, Send

from watchkeeper.errortrack import ingest

if TYPE_CHECKING:
    from watchkeeper.errortrack.service import ErrorTracker

ENDPOINTS = {"envelope": ingest.ENVELOPE, "store": ingest.STORE}
ALLOWED_HEADERS = (
    "accept",
    "authorization",
    "baggage",
    "content-encoding",
    "content-type",
    "origin",
    "sentry-trace",
    "x-requested-with",
    "x-sentry-auth",
)
EXPOSED = b"x-sentry-error, x-sentry-rate-limits, retry-after"
_BAD_METHOD = ingest.refuse(405, "use POST")


def ingest_path(path: str) -> tuple[int, str] | None:
    """(project id, endpoint) of an ingest URL; None for any other path."""
    if not path.startswith("/api/"):
        return None
    parts = path[5:].rstrip("/").split("/")
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 12:
        return None
    endpoint = ENDPOINTS.get(parts[1])
    return None if endpoint is None else (int(parts[0]), endpoint)


class SentryIngest:
    """Answers the SDKs' URLs (``serve``); ``web.app.WatchkeeperApp`` hands it those
    requests before any of FastAPI's layers."""

    def __init__(self, tracker: ErrorTracker, headers: list[tuple[bytes, bytes]]) -> None:
        self.tracker = tracker
        self.headers = headers

    async def serve(
        self, found: tuple[int, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """One request to an ingest URL (``found``: its project id and endpoint)."""
        project_id, endpoint = found
        wanted: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _WANTED:
                wanted.setdefault(name, value)
        origin = _text(wanted.get(b"origin"))
        method = scope["method"]
        if method == "OPTIONS":
            await self._preflight(send, project_id, origin, wanted)
            return
        if method != "POST":
            await self._answer(send, _BAD_METHOD, None, [(b"allow", b"POST, OPTIONS")])
            return
        length = wanted.get(b"content-length")
        client = scope.get("client")
        request = ingest.Request(
            project_id,
            endpoint,
            auth=_text(wanted.get(b"x-sentry-auth") or wanted.get(b"authorization")),
            query=scope.get("query_string", b"").decode("latin-1"),
            encoding=_text(wanted.get(b"content-encoding")) or "",
            length=int(length) if length is not None and length.isdigit() else None,
            origin=origin,
            client=client[0] if client else None,
        )
        answer = await ingest.take(self.tracker, request, lambda most: _read(receive, most))
        allowed = origin if origin is not None and answer.status != 403 else None
        await self._answer(send, answer, allowed)

    async def _preflight(
        self, send: Send, project_id: int, origin: str | None, wanted: dict[bytes, bytes]
    ) -> None:
        project = await self.tracker.project(project_id)
        if project is None or origin is None or not project.settings.allows_origin(origin):
            await self._answer(send, ingest.refuse(403, "this origin may not send here"), None)
            return
        asked = _text(wanted.get(b"access-control-request-headers")) or ""
        granted = [
            h.strip().lower() for h in asked.split(",") if h.strip().lower() in ALLOWED_HEADERS
        ]
        headers = [
            (b"access-control-allow-methods", b"POST, OPTIONS"),
            (b"access-control-allow-headers", ", ".join(granted or ALLOWED_HEADERS).encode()),
            (b"access-control-max-age", b"3600"),
        ]
        await self._answer(send, ingest.Answer(200, {}), origin, headers)

    async def _answer(
        self,
        send: Send,
        answer: ingest.Answer,
        origin: str | None,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        payload = answer.payload()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            *answer.headers,
            *(extra or []),
            *self.headers,
        ]
        if origin is not None:
            headers += [
                (b"access-control-allow-origin", origin.encode("latin-1", "replace")),
                (b"access-control-expose-headers", EXPOSED),
                (b"vary", b"Origin"),
            ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


_WANTED = frozenset(
    {
        b"x-sentry-auth",
        b"authorization",
        b"content-encoding",
        b"content-length",
        b"origin",
        b"access-control-request-headers",
    }
)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


async def _read(receive: Receive, most: int) -> bytes | None:
    """The whole body if it is at most ``most`` bytes; None (and the rest unread) if not."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > most:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
