"""The JSON the API answers with: one function per thing, shared by every route."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path as FastAPIPath

from watchkeeper.config import MaintenanceWindow, Monitor
from watchkeeper.engine.ledger import Ledger
from watchkeeper.model import Result
from watchkeeper.state import MonitorStatus
from watchkeeper.state.maintenance import window_active
from watchkeeper.store import alerts as db
from watchkeeper.store.series import Point

UPTIME_WINDOWS = {"24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}

RowId = Annotated[int, FastAPIPath(ge=1, le=2**63 - 1, description="a row id")]
"""An id in a path: what a 64-bit database key can hold (anything else is a 422, not a 500)."""


def result_json(result: Result) -> dict[str, Any]:
    data = result.to_json()
    data["at"] = data.pop("started_at")
    return data


def monitor_json(
    monitor: Monitor,
    status: MonitorStatus,
    *,
    source: str,
    ledger: Ledger | None = None,
    now: float = 0.0,
) -> dict[str, Any]:
    last = status.last_result
    data: dict[str, Any] = {
        "name": monitor.name,
        "kind": monitor.kind,
        "target": monitor.target,
        "description": monitor.description,
        "state": str(status.state),
        "since": status.since or None,
        "reason": status.reason,
        "interval_s": monitor.interval,
        "timeout_s": monitor.timeout,
        "expect": list(monitor.expect_texts),
        "warn": list(monitor.warn_texts),
        "tags": list(monitor.tags),
        "public": monitor.public,
        "paused": monitor.paused,
        "depends_on": list(monitor.depends_on),
        "notify": list(monitor.notify),
        "runbook": monitor.runbook,
        "severity": monitor.severity,
        "anomaly": list(monitor.anomaly),
        "locations_checked": list(monitor.locations),
        "quorum": monitor.quorum,
        "source": source,
        "last": result_json(last) if last else None,
    }
    if ledger is not None:
        data["uptime"] = {
            label: ledger.uptime(monitor.name, seconds, now)
            for label, seconds in UPTIME_WINDOWS.items()
        }
    return data


def incident_json(incident: db.Incident, now: float) -> dict[str, Any]:
    end = incident.closed_at if incident.closed_at is not None else now
    return {**incident.to_json(), "duration_s": round(max(0.0, end - incident.opened_at), 3)}


def timeline_json(entries: list[db.TimelineEntry]) -> list[dict[str, Any]]:
    return [{"at": e.at, "kind": e.kind, "text": e.text} for e in entries]


def silence_json(silence: db.Silence, now: float) -> dict[str, Any]:
    return silence.to_json(now)


def window_json(
    window: MaintenanceWindow, now: float, *, source: str, window_id: int | None = None
) -> dict[str, Any]:
    return {
        "id": window_id,
        "name": window.name,
        "source": source,
        "start": window.start,
        "end": window.end,
        "cron": window.cron,
        "duration_s": window.duration,
        "tz": window.tz,
        "monitors": list(window.monitors),
        "tags": list(window.tags),
        "reason": window.reason,
        "active": window_active(window, now),
    }


def point_json(point: Point) -> dict[str, Any]:
    return {
        "at": point.at,
        "checks": point.checks,
        "failures": point.failures,
        "p50_ms": point.p50,
        "p95_ms": point.p95,
        "max_ms": point.max,
        "phases": point.phases,
    }
