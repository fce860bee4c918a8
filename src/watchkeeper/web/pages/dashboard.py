"""The dashboard: monitor page, incidents, silences and maintenance, and the forms they post
(the overview is ``overview``). Server-rendered from memory (live state and the ledger) plus a
few indexed store reads; the monitor page then polls ``/api/v1/states`` for live updates.

Forms post here (not to the API) so they work without JavaScript; every one carries the
session's CSRF token, checked by ``require_write``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from watchkeeper.alerts import actions
from watchkeeper.cluster.agents import agent_json, locations_view, overview
from watchkeeper.config import Monitor
from watchkeeper.engine import defined
from watchkeeper.errors import ConfigError
from watchkeeper.redact import redact
from watchkeeper.state import MonitorStatus
from watchkeeper.store import alerts as db
from watchkeeper.units import parse_duration
from watchkeeper.web.activity import records
from watchkeeper.web.api.agents import locations_json
from watchkeeper.web.api.monitors import source_of
from watchkeeper.web.api.shapes import RowId, window_json
from watchkeeper.web.context import web_of
from watchkeeper.web.pages.overview import troubled
from watchkeeper.web.pages.public import day_css, is_public
from watchkeeper.web.pages.render import Pages
from watchkeeper.web.security import Reader, Writer

router = APIRouter(include_in_schema=False)
pages = Pages()
PAGE_SIZE = 50


@router.post("/definitions/{name}/delete")
@records("monitor.delete")
async def delete_definition_form(request: Request, name: str, user: Writer) -> Response:
    """Remove a broken stored definition (a monitor defined through the API that is not
    watched), as ``DELETE /api/v1/monitors/{name}`` does."""
    web = web_of(request)
    kept = web.engine.definitions
    async with kept.changing:
        if name not in kept.broken:
            return _back("/", f"There is no broken definition named '{name}'.", "error")
        await web.run(defined.remove, web.engine.store, name)
        kept.broken.pop(name, None)
    return _back("/", f"The broken definition of '{name}' was removed.", "ok")


@router.get("/monitors/{name}")
async def monitor_page(request: Request, name: str, user: Reader) -> Response:
    web = web_of(request)
    engine = web.engine
    monitor = engine.monitors.get(name)
    if monitor is None:
        return pages.render(
            "message.html",
            404,
            user=user,
            title="No such monitor",
            text=f"There is no monitor named '{name}'.",
        )
    now = time.time()
    status = engine.status.get(name) or MonitorStatus(name)

    drill_name = _drill_of(engine.monitors, monitor)

    def read() -> tuple[list[Any], list[db.Incident], list[Any], list[dict[str, Any]] | None]:
        results = engine.store.results(name, now - 7 * 86400, None, 20, newest_first=True)
        with engine.store.read() as connection:
            found = db.incidents(connection, open_only=False, limit=10, monitor=name)
        drills = None
        if drill_name is not None:
            drills = [r.body for r in engine.store.reports(drill_name, DRILLS_SHOWN)]
        if monitor.kind in ("backup", "browser"):
            newest = engine.store.reports(name, 1)
            backups.update(newest[0].body if newest else {})
            if newest:
                backups["ran_at"] = newest[0].at
        return results, found, engine.store.sample_names(name, now - 86400)[:300], drills

    backups: dict[str, Any] = {}
    results, incidents, observations, drills = await web.run(read)
    bars = engine.ledger.days(name, 90, now)
    days = [
        {"start": bar.start, "checks": bar.checks, "uptime": bar.uptime, "css": day_css(bar.uptime)}
        for bar in bars
    ]
    checks = sum(bar.checks for bar in bars)
    failures = sum(bar.failures for bar in bars)
    last = status.last_result
    notice = request.query_params.get("notice")
    return pages.render(
        "monitor.html",
        section="monitors",
        user=user,
        monitor=monitor,
        source=source_of(web, name),
        state=str(status.state),
        since=status.since or None,
        reason=status.reason,
        cause=next((i.cause for i in incidents if i.open and i.cause), None),
        latency=last.latency * 1000 if last and last.latency is not None else None,
        uptime={
            "24h": engine.ledger.uptime(name, 86400, now),
            "7d": engine.ledger.uptime(name, 7 * 86400, now),
            "30d": engine.ledger.uptime(name, 30 * 86400, now),
        },
        uptime_90=(checks - failures) / checks if checks else None,
        days=days,
        results=results,
        incidents=incidents,
        observations=observations,
        first_series=_first_series(monitor.kind, [o.name for o in observations]),
        passive=monitor.kind in ("slo", "heartbeat", "backup", "drill"),
        dependants=sorted(m.name for m in engine.monitors.values() if name in m.depends_on),
        public=is_public(web, monitor),
        open_incidents=troubled(web),
        notice=notice,
        notice_kind=request.query_params.get("kind", ""),
        drills=drills,
        drill_name=drill_name,
        backups=backups if monitor.kind == "backup" else None,
        journey=backups if monitor.kind == "browser" else None,
        locations=locations_json(web, monitor, now) if len(monitor.locations) > 1 else None,
        now=now,
    )


DRILLS_SHOWN = 10


def _drill_of(monitors: Mapping[str, Monitor], monitor: Monitor) -> str | None:
    """The drill monitor whose drills a monitor's page shows: its own, or its backup's."""
    if monitor.kind == "drill":
        return monitor.name
    if monitor.kind == "backup" and f"{monitor.name} drill" in monitors:
        return f"{monitor.name} drill"
    return None


_LEADING_SERIES = {
    "backup": "backup.size",
    "drill": "drill.rto",
    "host": "cpu.used_pct",
    "postgres": "pg.connections_used_pct",
    "mysql": "mysql.connections_used_pct",
    "redis": "redis.used_memory",
    "slo": "slo.budget_remaining_pct",
    "heartbeat": "heartbeat.last_ping_ago",
    "tls": "cert.expires_in",
}


def _first_series(kind: str, names: list[str]) -> str | None:
    """The series the page charts first: the one that says most about this kind."""
    wanted = _LEADING_SERIES.get(kind)
    if wanted in names:
        return wanted
    return names[0] if names else None


@router.get("/incidents")
async def incidents_page(
    request: Request,
    user: Reader,
    open: str = "",
    monitor: str = "",
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    web = web_of(request)
    open_only = bool(open)

    def read() -> tuple[list[db.Incident], int]:
        with web.engine.store.read() as connection:
            found = db.incidents(
                connection,
                open_only=open_only,
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
                monitor=monitor or None,
            )
            total = db.count_incidents(connection, open_only=open_only, monitor=monitor or None)
            return found, total

    found, total = await web.run(read)
    return pages.render(
        "incidents.html",
        section="incidents",
        user=user,
        incidents=found,
        total=total,
        open_only=open_only,
        monitor=monitor,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        open_incidents=troubled(web),
    )


@router.get("/incidents/{incident_id}")
async def incident_page(request: Request, incident_id: RowId, user: Reader) -> Response:
    web = web_of(request)

    def read() -> tuple[db.Incident | None, list[db.TimelineEntry]]:
        with web.engine.store.read() as connection:
            return db.incident(connection, incident_id), db.timeline(connection, incident_id)

    incident, timeline = await web.run(read)
    if incident is None:
        return pages.render(
            "message.html",
            404,
            user=user,
            title="No such incident",
            text=f"There is no incident #{incident_id}.",
        )
    secrets = web.config.secrets
    monitor = web.engine.monitors.get(incident.monitor)
    return pages.render(
        "incident.html",
        section="incidents",
        user=user,
        incident=incident,
        timeline=[
            db.TimelineEntry(e.incident_id, e.at, e.kind, redact(e.text, secrets)) for e in timeline
        ],
        runbook=monitor.runbook if monitor else None,
        open_incidents=troubled(web),
        notice=request.query_params.get("notice"),
        notice_kind=request.query_params.get("kind", ""),
    )


@router.post("/incidents/{incident_id}/ack")
@records("incident.ack")
async def ack_form(request: Request, incident_id: RowId, user: Writer) -> Response:
    web = web_of(request)
    try:
        _, already = await web.run(actions.acknowledge, web.engine.store, incident_id, user.name)
    except actions.ActionError as exc:
        raise HTTPException(404, str(exc)) from None
    text = "It was acknowledged already." if already else "Acknowledged: reminders stop."
    return _back(f"/incidents/{incident_id}", text, "ok")


@router.get("/nodes")
async def nodes_page(request: Request, user: Reader) -> Response:
    """The cluster's nodes and the agents of every location."""
    web = web_of(request)
    seen = await web.run(overview, web.engine.store, web.config.cluster.ttl)
    now = time.time()
    engine = web.engine
    agents = [agent_json(a, now, web.config.agents.silent_after) for a in seen.agents]
    return pages.render(
        "nodes.html",
        section="nodes",
        user=user,
        nodes=seen.nodes,
        problem=seen.problem,
        agents=agents,
        locations=locations_view(engine.monitors.values(), agents),
        open_incidents=troubled(web),
        now=now,
    )


@router.get("/silences")
async def silences_page(request: Request, user: Reader) -> Response:
    web = web_of(request)
    now = time.time()

    def read() -> list[db.Silence]:
        with web.engine.store.read() as connection:
            return db.silences(connection, current_at=now)

    silences = await web.run(read)
    found = await web.run(actions.windows, web.engine.store, web.config, list(web.engine.monitors))
    windows = [window_json(w, now, source=source, window_id=i) for w, source, i in found]
    engine = web.engine
    return pages.render(
        "silences.html",
        section="silences",
        user=user,
        silences=[s for s in silences if s.active(now)],
        windows=windows,
        monitor_names=sorted(engine.monitors),
        tags=sorted({t for m in engine.monitors.values() for t in m.tags}),
        open_incidents=troubled(web),
        notice=request.query_params.get("notice"),
        notice_kind=request.query_params.get("kind", ""),
        now=now,
    )


@router.post("/silences")
@records("silence.create")
async def silence_form(request: Request, user: Writer) -> Response:
    web = web_of(request)
    form = await request.form()
    back = _local(str(form.get("back") or "/silences"))
    monitor = str(form.get("monitor") or "") or None
    tag = str(form.get("tag") or "") or None
    try:
        lasting = parse_duration(str(form.get("duration") or "1h"))
        silence = await web.run(
            actions.add_silence,
            web.engine.store,
            web.engine.monitors.values(),
            monitor=monitor,
            tag=tag,
            lasting=lasting,
            reason=str(form.get("reason") or "") or None,
            by=user.name,
        )
    except (ValueError, actions.ActionError) as exc:
        return _back(back, f"Not silenced: {exc}", "error")
    await web.engine.alerting.refresh_mutes()
    what = f"monitor {silence.monitor}" if silence.monitor else f"tag {silence.tag}"
    return _back(back, f"Silence #{silence.id} holds {what}'s notifications.", "ok")


@router.post("/silences/{silence_id}/expire")
@records("silence.expire")
async def expire_form(request: Request, silence_id: RowId, user: Writer) -> Response:
    web = web_of(request)
    try:
        await web.run(actions.expire_silence, web.engine.store, silence_id)
    except actions.ActionError as exc:
        return _back("/silences", str(exc), "error")
    await web.engine.alerting.refresh_mutes()
    return _back("/silences", f"Silence #{silence_id} expired.", "ok")


@router.post("/maintenance")
@records("maintenance.create")
async def maintenance_form(request: Request, user: Writer) -> Response:
    web = web_of(request)
    form = await request.form()
    spec: dict[str, Any] = {"name": str(form.get("name") or "").strip()}
    cron = str(form.get("cron") or "").strip()
    start = str(form.get("start") or "").strip()
    spec["duration"] = str(form.get("duration") or "1h").strip()
    if cron:
        spec["cron"] = cron
    elif start:  # the form's "Starts (UTC)": a time without an offset is in the window's tz
        spec["start"] = start
    if form.get("monitor"):
        spec["monitors"] = [str(form.get("monitor"))]
    if form.get("tag"):
        spec["tags"] = [str(form.get("tag"))]
    try:
        window, _ = await web.run(
            actions.add_window,
            web.engine.store,
            web.config,
            list(web.engine.monitors),
            spec,
            user.name,
        )
    except ConfigError as exc:
        problems = "; ".join(p.message for p in exc.problems)
        return _back("/silences", f"Window not added: {problems}", "error")
    except actions.Conflict as exc:
        return _back("/silences", f"Window not added: {exc}.", "error")
    await web.engine.alerting.refresh_mutes()
    return _back("/silences", f"Maintenance window '{window.name}' added.", "ok")


@router.post("/maintenance/{window_id}/delete")
@records("maintenance.delete")
async def delete_window_form(request: Request, window_id: RowId, user: Writer) -> Response:
    web = web_of(request)

    try:
        await web.run(actions.delete_window, web.engine.store, window_id)
    except actions.ActionError as exc:
        return _back("/silences", str(exc), "error")
    await web.engine.alerting.refresh_mutes()
    return _back("/silences", "Maintenance window deleted.", "ok")


def _local(path: str) -> str:
    """Only paths on this site (no open redirect through ``back``/``next``)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _back(path: str, notice: str, kind: str) -> RedirectResponse:
    separator = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{separator}notice={quote(notice)}&kind={kind}", status_code=303)
