"""The Healthchecks-compatible ping API of heartbeat monitors (public: the UUID is the key).

    GET|POST|HEAD /ping/<uuid>              success
                  /ping/<uuid>/start        a run started
                  /ping/<uuid>/fail         a run failed
                  /ping/<uuid>/<0-255>      an exit code (0: success)
                  ?rid=<id>                 pairs start and finish of overlapping runs

Answers ``OK`` once the ping is committed to the store (503 if the store does not take it:
try again), ``not found`` (404) for a UUID no monitor has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
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


async def success(request: Request, uuid: str, rid: str = "") -> Response:
    """A run succeeded."""
    return await _ping(request, uuid, "success", None, rid)


async def action(request: Request, uuid: str, action: str, rid: str = "") -> Response:
    """``start``, ``fail``, or an exit code 0-255."""
    parsed = parse_action(action)
    if parsed is None:
        return PlainTextResponse("not found", status_code=404)
    return await _ping(request, uuid, parsed[0], parsed[1], rid)


for _method in METHODS:  # one route per method: OpenAPI operation IDs must be unique
    router.add_api_route(
        "/ping/{uuid}",
        success,
        methods=[_method],
        response_class=PlainTextResponse,
        operation_id=f"ping_success_{_method.lower()}",
    )
    router.add_api_route(
        "/ping/{uuid}/{action}",
        action,
        methods=[_method],
        response_class=PlainTextResponse,
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
    body: bytes | None,
    source: str | None,
) -> tuple[int, str]:
    """Store one ping and ask for the monitor's check: (status, text) to answer."""
    settings = engine.heartbeats.settings_for(uuid)
    if settings is None:
        return 404, "not found"
    kept = body[: settings.keep_body].decode("utf-8", "replace") if body else None
    try:
        received = await engine.heartbeats.ping(
            uuid, kind, exit_code=exit_code, rid=rid[:100], body=kept or None, source=source
        )
    except StoreError:
        return 503, "the store did not take it: try again"
    if received is None:
        return 404, "not found"
    # the state follows at once, not at the next interval; a burst of pings is judged once
    # per PING_COALESCE (a check per ping would store thousands of identical results)
    engine.run_now(received.monitor, PING_COALESCE)
    return 200, "OK"


async def _ping(
    request: Request, uuid: str, kind: str, exit_code: int | None, rid: str
) -> Response:
    engine = web_of(request).engine
    settings = engine.heartbeats.settings_for(uuid)
    body = None
    if request.method == "POST" and settings is not None and settings.keep_body > 0:
        body = await _read_capped(request.receive, settings.keep_body)
    source = request.client.host if request.client else None
    status, text = await record(engine, uuid, kind, exit_code, rid, body, source)
    return PlainTextResponse(text, status_code=status)


async def _read_capped(receive: Receive, most: int) -> bytes:
    data = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        data += message.get("body", b"")
        if len(data) >= most or not message.get("more_body", False):
            break
    return data[:most]


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
            await self._answer(send, method, 404, "not found")
            return
        kind, exit_code = parsed
        rid = ""
        query = scope.get("query_string", b"")
        if query:
            rid = parse_qs(query.decode("latin-1")).get("rid", [""])[0]
        body = None
        settings = self.engine.heartbeats.settings_for(parts[0])
        if method == "POST" and settings is not None and settings.keep_body > 0:
            body = await _read_capped(receive, settings.keep_body)
        client = scope.get("client")
        source = client[0] if client else None
        status, text = await record(self.engine, parts[0], kind, exit_code, rid, body, source)
        await self._answer(send, method, status, text)

    async def _answer(self, send: Send, method: str, status: int, text: str) -> None:
        payload = text.encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(payload)).encode()),
            *self.headers,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else payload})
