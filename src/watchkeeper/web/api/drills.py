"""``/api/v1/drills``: every backup's restore drills as ``wk drill report --format json``
states them, and one backup's drills with their records (``wk drill history``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from watchkeeper.backup.evidence import evidence
from watchkeeper.web.context import web_of
from watchkeeper.web.security import require_read

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_read)])


@router.get("/drills", tags=["drills"])
async def list_drills(request: Request) -> dict[str, Any]:
    """Each backup with a drill: its status (ok, failing, overdue, objective missed, never
    drilled), last successful restore, RTO and RPO against the objectives."""
    web = web_of(request)
    monitors = list(web.engine.monitors.values())
    rows = await web.run(evidence, monitors, web.engine.store)
    return {"backups": [row.as_json() for row in rows]}


@router.get("/drills/{name}", tags=["drills"])
async def get_drills(
    request: Request,
    name: str,
    limit: int = Query(20, ge=1, le=200, description="How many drills, newest first."),
) -> dict[str, Any]:
    """The drills of backup monitor ``name`` (or of its drill monitor), newest first, each
    with its file, checks, timings and log."""
    web = web_of(request)
    monitors = web.engine.monitors
    drill = name if name in monitors and monitors[name].kind == "drill" else f"{name} drill"
    if drill not in monitors or monitors[drill].kind != "drill":
        raise HTTPException(404, f"no backup monitor with a drill named '{name}'")
    reports = await web.run(web.engine.store.reports, drill, limit)
    backup = str(getattr(monitors[drill].settings, "monitor", name))
    return {"backup": backup, "drill": drill, "drills": [r.body for r in reports]}
