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

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from watchkeeper.errors import StoreError
from watchkeeper.web.context import web_of

router = APIRouter(tags=["heartbeats"])
METHODS = ["GET", "POST", "HEAD"]


async def success(request: Request, uuid: str, rid: str = "") -> Response:
    """A run succeeded."""
    return await _ping(request, uuid, "success", None, rid)


async def action(request: Request, uuid: str, action: str, rid: str = "") -> Response:
    """``start``, ``fail``, or an exit code 0-255."""
    if action == "start":
        return await _ping(request, uuid, "start", None, rid)
    if action == "fail":
        return await _ping(request, uuid, "fail", None, rid)
    if action.isdigit() and 0 <= int(action) <= 255:
        return await _ping(request, uuid, "exit", int(action), rid)
    return PlainTextResponse("not found", status_code=404)


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


async def _ping(
    request: Request, uuid: str, kind: str, exit_code: int | None, rid: str
) -> Response:
    engine = web_of(request).engine
    settings = engine.heartbeats.settings_for(uuid)
    if settings is None:
        return PlainTextResponse("not found", status_code=404)
    body = None
    if request.method == "POST" and settings.keep_body > 0:
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > settings.keep_body:
                data = data[: settings.keep_body]
                break
        body = data.decode("utf-8", "replace") if data else None
    source = request.client.host if request.client else None
    try:
        received = await engine.heartbeats.ping(
            uuid, kind, exit_code=exit_code, rid=rid[:100], body=body, source=source
        )
    except StoreError:
        return PlainTextResponse("the store did not take it: try again", status_code=503)
    if received is None:
        return PlainTextResponse("not found", status_code=404)
    engine.run_now(received.monitor)  # the state follows at once, not at the next interval
    return PlainTextResponse("OK")
