"""The HTTP surface of ``wk up``: ``/healthz`` and the first read-only API endpoints.

Live state comes from the engine's memory; history comes from the store in a worker thread.
The dashboard, status pages, /metrics and authentication build on this app.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Query

from watchkeeper import __version__
from watchkeeper.config import Monitor
from watchkeeper.engine.service import Engine
from watchkeeper.model import Result
from watchkeeper.state import MonitorStatus
from watchkeeper.web.timeparse import parse_time

MAX_PAGE = 5000


def create_app(engine: Engine) -> FastAPI:
    app = FastAPI(
        title="Watchkeeper",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, Any]:
        """Liveness plus the engine's own vital signs."""
        scheduler, writer = engine.scheduler, engine.writer
        return {
            "status": "ok",
            "version": __version__,
            "uptime_s": round(time.time() - engine.started_at, 3),
            "monitors": len(engine.monitors),
            "checks": scheduler.stats.completed if scheduler else 0,
            "in_flight": scheduler.in_flight if scheduler else 0,
            "lag_p99_ms": round(scheduler.stats.lag_seconds(99) * 1000, 3) if scheduler else None,
            "writer_queue": writer.queue_depth if writer else 0,
            "written": writer.written if writer else 0,
        }

    @app.get("/api/v1/monitors", tags=["monitors"])
    async def list_monitors(
        limit: int = Query(100, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0),
        state: str | None = None,
        tag: str | None = None,
    ) -> dict[str, Any]:
        """Every monitor with its live state and last result, in config order."""
        chosen = [
            m
            for m in engine.monitors.values()
            if (tag is None or tag in m.tags)
            and (state is None or _status(engine, m).state == state)
        ]
        page = chosen[offset : offset + limit]
        return {
            "items": [monitor_json(m, _status(engine, m)) for m in page],
            "total": len(chosen),
            "limit": limit,
            "offset": offset,
        }

    @app.get("/api/v1/monitors/{name}", tags=["monitors"])
    async def get_monitor(name: str) -> dict[str, Any]:
        monitor = _monitor(engine, name)
        return monitor_json(monitor, _status(engine, monitor))

    @app.get("/api/v1/monitors/{name}/results", tags=["monitors"])
    async def monitor_results(
        name: str,
        since: str = Query("1h", description="6h (ago), epoch seconds or ISO 8601"),
        until: str | None = None,
        limit: int = Query(1000, ge=1, le=MAX_PAGE),
        failed: bool = False,
        order: Literal["asc", "desc"] = Query(
            "asc", description="asc: oldest first from since; desc: newest first back to since"
        ),
    ) -> dict[str, Any]:
        """Raw results in ``[since, until)``, at most ``limit``; ``truncated`` says there were
        more (ask again from the last one's ``at``, or with ``order=desc``)."""
        _monitor(engine, name)
        try:
            start = parse_time(since)
            end = parse_time(until) if until else None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        results = await asyncio.to_thread(
            functools.partial(
                engine.store.results,
                name,
                start,
                end,
                limit + 1,
                failed_only=failed,
                newest_first=order == "desc",
            )
        )
        return {
            "monitor": name,
            "since": start,
            "until": end,
            "order": order,
            "items": [result_json(r) for r in results[:limit]],
            "limit": limit,
            "truncated": len(results) > limit,
        }

    return app


def _monitor(engine: Engine, name: str) -> Monitor:
    monitor = engine.monitors.get(name)
    if monitor is None:
        raise HTTPException(404, f"no monitor named '{name}'")
    return monitor


def _status(engine: Engine, monitor: Monitor) -> MonitorStatus:
    return engine.status.get(monitor.name) or MonitorStatus(monitor.name)


def result_json(result: Result) -> dict[str, Any]:
    data = result.to_json()
    data["at"] = data.pop("started_at")
    return data


def monitor_json(monitor: Monitor, status: MonitorStatus) -> dict[str, Any]:
    last = status.last_result
    return {
        "name": monitor.name,
        "kind": monitor.kind,
        "target": monitor.target,
        "state": str(status.state),
        "since": status.since or None,
        "reason": status.reason,
        "interval_s": monitor.interval,
        "timeout_s": monitor.timeout,
        "expect": list(monitor.expect_texts),
        "tags": list(monitor.tags),
        "public": monitor.public,
        "paused": monitor.paused,
        "depends_on": list(monitor.depends_on),
        "source": "config",
        "last": result_json(last) if last else None,
    }
