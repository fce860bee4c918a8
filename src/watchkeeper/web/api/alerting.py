"""``/api/v1/incidents``, ``/silences``, ``/maintenance`` and ``/routes``: what went wrong,
what is held, and where notifications go (with each route's delivery health)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from watchkeeper.alerts import actions
from watchkeeper.errors import ConfigError
from watchkeeper.redact import redact
from watchkeeper.store import alerts as db
from watchkeeper.units import parse_duration
from watchkeeper.web.activity import records
from watchkeeper.web.api.shapes import (
    RowId,
    incident_json,
    silence_json,
    timeline_json,
    window_json,
)
from watchkeeper.web.context import web_of
from watchkeeper.web.security import Writer, require_read

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_read)])
MAX_PAGE = 1000


# -- incidents ---------------------------------------------------------------------------------
@router.get("/incidents", tags=["incidents"])
async def list_incidents(
    request: Request,
    open: bool = Query(False, description="only incidents not resolved"),
    monitor: str | None = None,
    limit: int = Query(50, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    """Incidents, newest first."""
    web = web_of(request)

    def read() -> tuple[list[db.Incident], int]:
        with web.engine.store.read() as connection:
            found = db.incidents(
                connection, open_only=open, limit=limit, monitor=monitor, offset=offset
            )
            return found, db.count_incidents(connection, open_only=open, monitor=monitor)

    found, total = await web.run(read)
    now = time.time()
    return {
        "items": [incident_json(i, now) for i in found],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/incidents/{incident_id}", tags=["incidents"])
async def get_incident(request: Request, incident_id: RowId) -> dict[str, Any]:
    """One incident with its timeline (detected, notifications and their delivery,
    acknowledgement, recovery) and the monitor's runbook."""
    web = web_of(request)

    def read() -> tuple[db.Incident | None, list[db.TimelineEntry]]:
        with web.engine.store.read() as connection:
            return db.incident(connection, incident_id), db.timeline(connection, incident_id)

    incident, timeline = await web.run(read)
    if incident is None:
        raise HTTPException(404, f"no incident {incident_id}")
    data = incident_json(incident, time.time())
    monitor = web.engine.monitors.get(incident.monitor)
    data["runbook"] = monitor.runbook if monitor else None
    data["timeline"] = [
        {**entry, "text": redact(entry["text"], web.config.secrets)}
        for entry in timeline_json(timeline)
    ]
    return data


class AckRequest(BaseModel):
    by: str | None = Field(None, max_length=200, description="who (default: the caller)")


@router.post("/incidents/{incident_id}/ack", tags=["incidents"])
@records("incident.ack")
async def ack_incident(
    request: Request,
    incident_id: RowId,
    who: Writer,
    body: AckRequest | None = None,
) -> dict[str, Any]:
    """Acknowledge an incident: reminders and escalation stop."""
    web = web_of(request)
    by = (body.by if body else None) or who.name
    try:
        incident, already = await web.run(actions.acknowledge, web.engine.store, incident_id, by)
    except actions.ActionError as exc:
        raise HTTPException(404, str(exc)) from None
    data = incident_json(incident, time.time())
    data["already_acknowledged"] = already
    return data


# -- silences ----------------------------------------------------------------------------------
class SilenceRequest(BaseModel):
    monitor: str | None = Field(None, description="a monitor's name, or")
    tag: str | None = Field(None, description="every monitor with this tag")
    duration: str = Field("1h", description="how long, from now: 30m, 2h, 1d")
    reason: str | None = Field(None, max_length=1000)


@router.get("/silences", tags=["silences"])
async def list_silences(
    request: Request,
    all: bool = Query(False, description="ended and expired ones too"),
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    web = web_of(request)
    now = time.time()

    def read() -> list[db.Silence]:
        with web.engine.store.read() as connection:
            return db.silences(connection, current_at=None if all else now)

    found = list(reversed(await web.run(read)))
    return {
        "items": [silence_json(s, now) for s in found[offset : offset + limit]],
        "total": len(found),
        "limit": limit,
        "offset": offset,
    }


@router.post("/silences", tags=["silences"], status_code=201)
@records("silence.create")
async def create_silence(request: Request, body: SilenceRequest, who: Writer) -> dict[str, Any]:
    """Hold a monitor's (or a tag's) notifications from now for ``duration``; checks go on."""
    web = web_of(request)
    try:
        lasting = parse_duration(body.duration)
    except ValueError as exc:
        raise HTTPException(422, f"duration: {exc}") from None
    try:
        silence = await web.run(
            actions.add_silence,
            web.engine.store,
            web.engine.monitors.values(),
            monitor=body.monitor or None,
            tag=body.tag or None,
            lasting=lasting,
            reason=body.reason,
            by=who.name,
        )
    except actions.ActionError as exc:
        raise HTTPException(422, str(exc)) from None
    await web.engine.alerting.refresh_mutes()
    return silence_json(silence, time.time())


@router.delete("/silences/{silence_id}", tags=["silences"], status_code=204)
@records("silence.expire")
async def expire_silence(request: Request, silence_id: RowId, _: Writer) -> Response:
    """End a silence now."""
    web = web_of(request)
    try:
        await web.run(actions.expire_silence, web.engine.store, silence_id)
    except actions.ActionError as exc:
        raise HTTPException(404, str(exc)) from None
    await web.engine.alerting.refresh_mutes()
    return Response(status_code=204)


# -- maintenance windows -----------------------------------------------------------------------
WINDOW_EXAMPLE = {
    "name": "db-upgrade",
    "start": "2026-12-01T02:00:00",
    "duration": "2h",
    "tz": "Europe/Berlin",
    "monitors": ["db"],
}


@router.get("/maintenance", tags=["maintenance"])
async def list_maintenance(
    request: Request,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    """Maintenance windows: the config's (read-only here) and those defined through the API."""
    web = web_of(request)
    now = time.time()
    found = await web.run(actions.windows, web.engine.store, web.config, list(web.engine.monitors))
    items = [window_json(w, now, source=source, window_id=i) for w, source, i in found]
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "limit": limit,
        "offset": offset,
    }


@router.post("/maintenance", tags=["maintenance"], status_code=201)
@records("maintenance.create")
async def create_maintenance(
    request: Request,
    spec: Annotated[dict[str, Any], Body(examples=[WINDOW_EXAMPLE])],
    who: Writer,
) -> dict[str, Any]:
    """Define a maintenance window: the JSON form of one ``maintenance:`` entry (one-off
    ``start`` + ``end``/``duration``, or ``cron`` + ``duration``, in ``tz``)."""
    web = web_of(request)
    try:
        window, window_id = await web.run(
            actions.add_window,
            web.engine.store,
            web.config,
            list(web.engine.monitors),
            spec,
            who.name,
        )
    except ConfigError as exc:
        raise HTTPException(
            422, [problem.one_line().removeprefix("api: ") for problem in exc.problems]
        ) from None
    except actions.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    await web.engine.alerting.refresh_mutes()
    return window_json(window, time.time(), source="api", window_id=window_id)


@router.delete("/maintenance/{window_id}", tags=["maintenance"], status_code=204)
@records("maintenance.delete")
async def delete_maintenance(request: Request, window_id: RowId, _: Writer) -> Response:
    """Remove a window defined through the API (the config's are edited in the file)."""
    web = web_of(request)
    try:
        await web.run(actions.delete_window, web.engine.store, window_id)
    except actions.ActionError as exc:
        raise HTTPException(404, str(exc)) from None
    await web.engine.alerting.refresh_mutes()
    return Response(status_code=204)


# -- notification routes -----------------------------------------------------------------------
@router.get("/routes", tags=["routes"])
async def list_routes(
    request: Request,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    """Notification routes with their delivery health (secrets in targets are masked)."""
    web = web_of(request)

    def read() -> dict[str, db.RouteHealth]:
        with web.engine.store.read() as connection:
            return db.route_health(connection)

    health = await web.run(read)
    deliverer = web.engine.alerting.deliverer
    items = []
    for route in web.config.routes:
        state = health.get(route.name)
        items.append(
            {
                "name": route.name,
                "kind": route.kind,
                "target": route.target,
                "group_wait_s": route.group_wait,
                "severities": list(route.severities),
                "tags": list(route.tags),
                "broken": route.name in deliverer.broken,
                "broken_since": state.broken_since if state else None,
                "last_error": redact(state.last_error, web.config.secrets)
                if state and state.last_error
                else None,
                "last_success_at": state.last_success_at if state else None,
                "last_failure_at": state.last_failure_at if state else None,
                "delivered": deliverer.outcomes.get((route.name, "delivered"), 0),
                "failed": deliverer.outcomes.get((route.name, "failed"), 0),
                "retried": deliverer.outcomes.get((route.name, "retry"), 0),
            }
        )
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "limit": limit,
        "offset": offset,
        "outbox": deliverer.unfinished,
    }
