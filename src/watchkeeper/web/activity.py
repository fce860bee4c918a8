"""Every write made through the API or the dashboard goes to the activity log.

``Recorder`` (ASGI middleware, inside the gate: the principal is known) sees each request
that is not a read (``GET``/``HEAD``/``OPTIONS``) made by a signed-in principal, except an
agent's pushes (machine traffic: its token's use is recorded instead). It writes the entry
when the answer starts, before the client sees it: the route's dotted verb (``records``),
the principal, the client address (uvicorn has already applied a trusted proxy's forwarding
headers, as the login throttle sees it), the subject (the path's parameter, else the body's
``name``/``monitor``/``tag``), the outcome from the status (``ok`` < 400, ``denied`` 401/403,
else ``failed``) and the request's body, shaped by ``activity.shape_detail`` (secrets masked,
at most 2 KiB). A route may add to the detail with ``request.state.activity_detail``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from watchkeeper.activity import ActivityLog
from watchkeeper.auth import Principal
from watchkeeper.web.security import AGENT_PATHS, ASGIApp, Message, Receive, Scope, Send

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY = 16 * 1024
"""Bytes of a request's body looked at for the detail (past it, the body is left out)."""
ACTION_ATTRIBUTE = "activity_action"


def records(action: str) -> Callable[[F], F]:
    """Name the dotted verb a write route is logged under (``monitor.update``)."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, ACTION_ATTRIBUTE, action)
        return endpoint

    return mark


def action_of(endpoint: object, method: str) -> str:
    found = getattr(endpoint, ACTION_ATTRIBUTE, None)
    return found if isinstance(found, str) else f"http.{method.lower()}"


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    return "denied" if status in (401, 403) else "failed"


def client_address(scope: Scope) -> str | None:
    """The client's address as the server sees it (a trusted proxy's forwarding applied)."""
    client = scope.get("client")
    return str(client[0]) if client else None


class Recorder:
    def __init__(self, app: ASGIApp, activity: Callable[[], ActivityLog]) -> None:
        self.app = app
        self.activity = activity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Principal | None = (scope.get("state") or {}).get("principal")
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or principal is None
            or principal.agent_location is not None
            or scope["path"].startswith(AGENT_PATHS)
        ):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        done = False

        async def reading() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) <= MAX_BODY:
                body.extend(message.get("body", b"")[: MAX_BODY + 1 - len(body)])
            return message

        async def sending(message: Message) -> None:
            nonlocal done
            if message["type"] == "http.response.start" and not done:
                done = True
                await self._record(scope, principal, int(message["status"]), bytes(body))
            await send(message)

        try:
            await self.app(scope, reading, sending)
        except Exception:
            if not done:
                done = True
                await self._record(scope, principal, 500, bytes(body))
            raise

    async def _record(self, scope: Scope, principal: Principal, status: int, body: bytes) -> None:
        state: MutableMapping[str, Any] = scope.get("state") or {}
        parsed = _parse_body(scope, body)
        detail: dict[str, Any] = {"method": scope["method"], "path": scope["path"]}
        if status >= 400:
            detail["status"] = status
        if parsed:
            detail["request"] = parsed
        extra = state.get("activity_detail")
        if isinstance(extra, dict):
            detail.update(extra)
        await self.activity().record(
            principal.name,
            action_of(scope.get("endpoint"), scope["method"]),
            _subject(scope, parsed),
            address=client_address(scope),
            outcome=outcome_of(status),
            detail=detail,
        )


def _parse_body(scope: Scope, body: bytes) -> dict[str, Any] | None:
    if not body or len(body) > MAX_BODY:
        return None
    headers = dict(scope.get("headers") or ())
    kind = headers.get(b"content-type", b"").decode("latin-1").lower()
    try:
        if kind.startswith("application/json"):
            loaded = json.loads(body)
            return loaded if isinstance(loaded, dict) else None
        if kind.startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=100))
    except ValueError:
        return None
    return None


def _subject(scope: Scope, parsed: dict[str, Any] | None) -> str | None:
    params = scope.get("path_params") or {}
    if params:
        return ",".join(str(value) for value in params.values())
    for key in ("name", "monitor", "tag"):
        value = (parsed or {}).get(key)
        if isinstance(value, str) and value:
            return value
    return None
