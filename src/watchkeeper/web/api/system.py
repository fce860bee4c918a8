"""Liveness (public), Watchkeeper's own vitals, the compact live view the pages poll, the
OpenAPI document (behind authentication; ``/api/docs`` shows it), and ``/metrics``."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from watchkeeper import __version__
from watchkeeper.web.activity import records
from watchkeeper.web.context import web_of
from watchkeeper.web.openapi import build as openapi_document
from watchkeeper.web.security import Writer, require_read

public = APIRouter(tags=["health"])
router = APIRouter(dependencies=[Depends(require_read)])
MAX_NAMES = 500
"""Monitors one ``/api/v1/states`` request may name (a page's worth, and a URL's)."""


@public.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness: answers while the process runs (public, for load balancers)."""
    web = web_of(request)
    return {
        "status": "ok",
        "version": __version__,
        "uptime_s": round(time.time() - web.engine.started_at, 3),
    }


@router.get("/api/v1/health", tags=["health"])
async def health(request: Request) -> dict[str, Any]:
    """The engine's vital signs: checks run, lag, the store writer, the outbox."""
    engine = web_of(request).engine
    scheduler, writer = engine.scheduler, engine.writer
    return {
        "status": "ok",
        "version": __version__,
        "uptime_s": round(time.time() - engine.started_at, 3),
        "monitors": len(engine.monitors),
        "checks": scheduler.stats.completed if scheduler else 0,
        "in_flight": scheduler.in_flight if scheduler else 0,
        "lag_p99_ms": round(scheduler.stats.lag_seconds(99) * 1000, 3) if scheduler else None,
        "lag_p99_ms_last_minute": (
            round(lag * 1000, 3)
            if scheduler and (lag := scheduler.stats.last_minute_lag(99)) is not None
            else None
        ),
        "writer_queue": writer.queue_depth if writer else 0,
        "written": writer.written if writer else 0,
        "outbox": engine.alerting.deliverer.unfinished,
        "broken_routes": sorted(engine.alerting.deliverer.broken),
    }


@router.get("/api/v1/states", tags=["monitors"])
async def states(
    request: Request,
    name: Annotated[
        list[str] | None,
        Query(
            max_length=MAX_NAMES,
            description="only these monitors (repeat it); counts still cover every monitor",
        ),
    ] = None,
) -> dict[str, Any]:
    """Every monitor's state in one small document (what the monitor page polls for live
    updates, with ``name``): ``{name: {state, since, latency_ms, at, ok, reason}}`` and counts
    per state."""
    engine = web_of(request).engine
    monitors: dict[str, Any] = {}
    counts: dict[str, int] = {}
    wanted = None if name is None else set(name)
    for each in engine.monitors:
        status = engine.status.get(each)
        state = str(status.state) if status else "unknown"
        counts[state] = counts.get(state, 0) + 1
        if wanted is not None and each not in wanted:
            continue
        last = status.last_result if status else None
        monitors[each] = {
            "state": state,
            "since": status.since if status else None,
            "latency_ms": round(last.latency * 1000, 3) if last and last.latency else None,
            "at": last.started_at if last else None,
            "ok": last.ok if last else None,
            "reason": status.reason if status else None,
        }
    return {"at": time.time(), "counts": counts, "monitors": monitors}


@router.post("/api/v1/reload", tags=["health"])
@records("config.reload")
async def reload(request: Request, _: Writer) -> JSONResponse:
    """Reload the config file, as ``SIGHUP`` and ``wk reload`` do, and say what changed
    (``ok``, ``changes``, ``notes``, ``lines``). 422 with ``errors`` (one file:line line
    each) when the file is invalid: the running config stays. Needs write access."""
    reloader = web_of(request).reloader
    if reloader is None:
        return JSONResponse({"detail": "this server runs without a config file"}, 409)
    outcome = await reloader.reload("API")
    request.state.activity_detail = {"trigger": "API", "lines": outcome.lines()[:10]}
    return JSONResponse(outcome.to_json(), 200 if outcome.ok else 422)


@router.get("/api/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document(request.app))


@router.get("/metrics", tags=["metrics"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format, from memory only (see ``watchkeeper.web.metrics``)."""
    body = web_of(request).metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
