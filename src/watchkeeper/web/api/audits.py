"""``/api/v1/audits``: every audit monitor's newest grade, score and findings, and one site's
report with its history (what the Security page shows)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from watchkeeper.state import MonitorStatus
from watchkeeper.web.context import Web, web_of
from watchkeeper.web.security import require_read

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_read)])


def audit_names(web: Web) -> list[str]:
    return sorted(name for name, m in web.engine.monitors.items() if m.kind == "audit")


def summary(web: Web, name: str, body: dict[str, Any] | None, at: float | None) -> dict[str, Any]:
    """One site's line: its monitor state and the newest report's grade and counts."""
    monitor = web.engine.monitors[name]
    status = web.engine.status.get(name) or MonitorStatus(name)
    findings = (body or {}).get("findings") or []
    counts = {"critical": 0, "warning": 0, "info": 0}
    for finding in findings:
        severity = finding.get("severity") if isinstance(finding, dict) else None
        if severity in counts:
            counts[severity] += 1
    return {
        "monitor": name,
        "target": monitor.target,
        "state": str(status.state),
        "audited_at": at,
        "grade": (body or {}).get("grade"),
        "score": (body or {}).get("score"),
        "findings": counts,
        "errors": (body or {}).get("errors") or [],
    }


@router.get("/audits", tags=["audits"])
async def list_audits(request: Request) -> dict[str, Any]:
    """Every audit monitor with its newest grade, score and findings by severity."""
    web = web_of(request)
    names = audit_names(web)
    latest = await web.run(web.engine.store.latest_reports, names)
    items = []
    for name in names:
        report = latest.get(name)
        items.append(
            summary(web, name, report.body if report else None, report.at if report else None)
        )
    return {"items": items}


@router.get("/audits/{name}", tags=["audits"])
async def get_audit(
    request: Request,
    name: str,
    history: int = Query(90, ge=1, le=1000, description="how many past runs' grades"),
) -> dict[str, Any]:
    """One audit monitor's newest report (Observatory tests, TLS, findings) and the grade and
    score of its past runs, newest first."""
    web = web_of(request)
    monitor = web.engine.monitors.get(name)
    if monitor is None or monitor.kind != "audit":
        raise HTTPException(404, f"no audit monitor named '{name}'")
    reports = await web.run(web.engine.store.reports, name, history)
    newest = reports[0] if reports else None
    return {
        **summary(web, name, newest.body if newest else None, newest.at if newest else None),
        "report": newest.body if newest else None,
        "history": [
            {"at": r.at, "grade": r.body.get("grade"), "score": r.body.get("score")}
            for r in reports
        ],
    }
