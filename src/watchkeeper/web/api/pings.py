"""The Healthchecks-compatible ping API of heartbeat monitors (public: the UUID is the key).

    GET|POST|HEAD /ping/<uuid>              success
                  /ping/<uuid>/start        a run started
                  /ping/<uuid>/fail         a run failed
                  /ping/<uuid>/<0-255>      an exit code (0: success)
                  ?rid=<id>                 pairs start and finish of overlapping runs

Answers ``OK`` once the ping is committed to the store (503 if the store does not take it:
try again), ``not found`` (404) for a UUID no monitor has, and 429 with ``Retry-After``
past the UUID's rate limit (``ping_burst`` at once, then ``ping_rate`` a second): that ping
is counted — it changes the monitor's state as any other — but its body is not read and it
is stored later, coalesced with the others past the limit (see ``engine.heartbeats``).

Only a POST's body is read, and only up to the monitor's ``keep_body`` (at most 100 KiB),
chunked or not: the rest is never buffered. NUL characters (which PostgreSQL's text cannot
hold) become U+FFFD in the body and the run id.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from watchkeeper.errors import StoreError
from watchkeeper.web.context import web_of

if TYPE_CHECKING:
    from watchkeeper.engine.service import Engine

router = APIRouter(tags=["heartbeats"])
METHODS = ["GET", "POST", "HEAD"]
PING_COALESCE = 0.25
MAX_RID = 100

BodyReader = Callable[[int], Awaitable[bytes]]
"""Reads at most that many bytes of the request's body."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str
    retry_after: int | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        if self.retry_after is None:
            return []
        return [(b"retry-after", str(self.retry_after).encode())]


NOT_FOUND = Answer(404, "not found")


async def success(request: Request, uuid: str, rid: str = "") -> Response:
    """A run succeeded."""
    return await _ping(request, uuid, "success", None, rid)


async def action(request: Request, uuid: str, action: str, rid: str = "") -> Response:
    """``start``, ``fail``, or an exit code 0-255."""
    parsed = parse_action(action)
    if parsed is None:
        return PlainTextResponse("not found", status_code=404)
    return await _ping(request, uuid, parsed[0], parsed[1], rid)


_TEXT: dict[str, Any] = {"text/plain": {"schema": {"type": "string"}}}
ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No monitor has this UUID", "content": _TEXT},
    429: {
        "description": "Past the UUID's rate limit: counted, not stored as sent (Retry-After)",
        "content": _TEXT,
    },
    503: {"description": "The store did not take it: try again", "content": _TEXT},
}

for _method in METHODS:  # one route per method: OpenAPI operation IDs must be unique
    router.add_api_route(
        "/ping/{uuid}",
        success,
        methods=[_method],
        response_class=PlainTextResponse,
        responses=ANSWERS,
        operation_id=f"ping_success_{_method.lower()}",
    )
    router.add_api_route(
        "/ping/{uuid}/{action}",
        action,
        methods=[_method],
        response_class=PlainTextResponse,
        responses=ANSWERS,
        operation_id=f"ping_action_{_method.lower()}",
    )


def parse_action(action: str | None) -> tuple[str, int | None] | None:
    """``start``, ``fail``, an exit code 0-255, or nothing (success); None: not an action."""
    if action is None:
        return "success", None
    if action in ("start", "fail"):
        return action, None
    if action.isdigit() and len(action) <= 3 and 0 <= int(action) <= 255:
        return "exit", int(action)
    return None


async def record(
    engine: Engine,
    uuid: str,
    kind: str,
    exit_code: int | None,
    rid: str,
    source: str | None,
    read_body: BodyReader | None,
) -> Answer:
    """Store one ping (its body read through ``read_body``, if given and kept), or count
    one past the rate limit, and ask for the monitor's check: what to answer."""
    heartbeats = engine.heartbeats
    settings = heartbeats.settings_for(uuid)
    if settings is None:
        return NOT_FOUND
    rid = _text(rid[:MAX_RID])
    wait = heartbeats.admit(uuid)
    if wait > 0:
        counted = heartbeats.count_only(uuid, kind, exit_code=exit_code, rid=rid, source=source)
        if counted is None:
            return NOT_FOUND
        engine.run_now(counted.monitor, PING_COALESCE)
        return Answer(
            429,
            f"too many pings: counted, body not kept (limit {settings.ping_burst} at once, "
            f"then {settings.ping_rate:g}/s)",
            max(1, math.ceil(wait)),
        )
    kept = None
    if read_body is not None and settings.keep_body > 0:
        kept = _kept_body(await read_body(settings.keep_body), settings.keep_body)
    try:
        received = await heartbeats.ping(
            uuid, kind, exit_code=exit_code, rid=rid, body=kept, source=source
        )
    except StoreError:
        return Answer(503, "the store did not take it: try again")
    if received is None:
        return NOT_FOUND
    # the state follows at once, not at the next interval; a burst of pings is judged once
    # per PING_COALESCE (a check per ping would store thousands of identical results)
    engine.run_now(received.monitor, PING_COALESCE)
    return Answer(200, "OK")


def _kept_body(body: bytes, most: int) -> str | None:
    """At most ``most`` bytes of text, also once encoded (an invalid byte decodes to
    U+FFFD, three bytes in UTF-8: cut after decoding, at a character boundary)."""
    text = body[:most].decode("utf-8", "replace").encode()[:most].decode("utf-8", "ignore")
    return _text(text) or None


def _text(value: str) -> str:
    return value.replace("\x00", "\ufffd")


async def _ping(
    request: Request, uuid: str, kind: str, exit_code: int | None, rid: str
) -> Response:
    engine = web_of(request).engine
    reader = _reader(request.receive) if request.method == "POST" else None
    source = request.client.host if request.client else None
    answer = await record(engine, uuid, kind, exit_code, rid, source, reader)
    headers = {k.decode(): v.decode() for k, v in answer.headers()}
    return PlainTextResponse(answer.text, status_code=answer.status, headers=headers)


def _reader(receive: Receive) -> BodyReader:
    return lambda most: _read_capped(receive, most)


async def _read_capped(receive: Receive, most: int) -> bytes:
    """The body's first ``most`` bytes: receives stop once that many came (a request body
    arrives in chunks of at most the server's read size, so little more is ever held)."""
    data = bytearray()
    while len(data) < most:
        message = await receive()
        if message["type"] != "http.request":
            break
        data += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return bytes(data[:most])


class PingFastPath:
    """The ping API as plain ASGI, ahead of the framework: a ping is one short write, and
    FastAPI's routing, dependencies and middleware stack cost four times what the ping
    itself does (1,800 pings/s on one core through them). Same answers as the routes above,
    which stay for the OpenAPI document and serve anything this does not take."""

    def __init__(self, app: ASGIApp, engine: Engine, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.engine = engine
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        method: str = scope.get("method", "")
        if not path.startswith("/ping/") or method not in METHODS:
            await self.app(scope, receive, send)
            return
        parts = path[len("/ping/") :].split("/")
        parsed = (
            parse_action(parts[1])
            if len(parts) == 2
            else (parse_action(None) if len(parts) == 1 else None)
        )
        if not parts[0] or parsed is None:
            await self._answer(send, method, NOT_FOUND)
            return
        kind, exit_code = parsed
        rid = ""
        query = scope.get("query_string", b"")
        if query:
            rid = parse_qs(query.decode("latin-1")).get("rid", [""])[0]
        client = scope.get("client")
        source = client[0] if client else None
        reader = _reader(receive) if method == "POST" else None
        answer = await record(self.engine, parts[0], kind, exit_code, rid, source, reader)
        await self._answer(send, method, answer)

    async def _answer(self, send: Send, method: str, answer: Answer) -> None:
        payload = answer.text.encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(payload)).encode()),
            *answer.headers(),
            *self.headers,
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else payload})
