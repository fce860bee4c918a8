"""What anyone may see: status pages (``status_pages:``; by default ``/status`` with every
public monitor) and SVG badges for public monitors.

Both show states, uptime and incident times only — never targets, hostnames, expectations
or error texts — and both come from memory, except the past incidents of a status page (one
indexed read, and the rendered page is kept for ``CACHE_FOR`` seconds or until a state
changes, so a crowd reloading the page during an outage costs one render every few seconds).

A component is an "Outage" only while a monitor of it is down (a flapping one is degraded:
it is up by turns), and a past incident is published only if it was more than a blip (told
on a route, or as long as a route would have waited: ``alerts.incidents.announced``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from watchkeeper.alerts.incidents import QUIET_FOR, announced
from watchkeeper.config import Monitor, StatusComponent, StatusPage
from watchkeeper.state.maintenance import window_active
from watchkeeper.store import alerts as db
from watchkeeper.web.context import Web, web_of
from watchkeeper.web.pages.render import Pages

router = APIRouter(include_in_schema=False)
pages = Pages()
CACHE_FOR = 10.0
RECENT = 14 * 86400.0
BADGE_WINDOWS = {"24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0, "90d": 90 * 86400.0}

_WORDS = {
    "up": "Operational",
    "degraded": "Degraded performance",
    "down": "Outage",
    "maintenance": "Under maintenance",
    "unknown": "No data yet",
}
_RANK = {"unknown": 0, "up": 1, "maintenance": 2, "degraded": 3, "down": 4}


def day_css(uptime: float | None) -> str:
    if uptime is None:
        return ""
    if uptime >= 0.999:
        return "good"
    if uptime >= 0.99:
        return "fair"
    if uptime >= 0.95:
        return "warn"
    return "bad"


def status_pages(web: Web) -> list[StatusPage]:
    """The configured pages, and at ``/status`` (unless one is configured there) the default:
    every public monitor, one line each."""
    pages = list(web.config.status_pages)
    if not any(page.path == "/status" for page in pages):
        public = [m for m in web.engine.monitors.values() if m.public]
        pages.append(
            StatusPage(
                components=tuple(StatusComponent(name=m.name, monitors=(m.name,)) for m in public)
            )
        )
    return pages


def is_public(web: Web, monitor: Monitor) -> bool:
    """Public monitors, and monitors shown on a configured status page."""
    if monitor.public:
        return True
    return any(
        monitor.name in c.monitors or any(t in monitor.tags for t in c.tags)
        for page in web.config.status_pages
        for c in page.components
    )


def _members(web: Web, component: StatusComponent) -> list[Monitor]:
    return [
        m
        for m in web.engine.monitors.values()
        if m.name in component.monitors or any(t in m.tags for t in component.tags)
    ]


def _public_state(web: Web, monitor: Monitor, now: float) -> str:
    windows = [*web.config.maintenance, *web.engine.alerting.api_maintenance]
    status = web.engine.status.get(monitor.name)
    state = str(status.state) if status else "unknown"
    if state in ("down", "degraded", "flapping") and any(
        w.covers(monitor.name, monitor.tags) and window_active(w, now) for w in windows
    ):
        return "maintenance"
    if state == "flapping":  # up and down by turns: not an outage while it is up
        return "degraded"
    if state == "paused":
        return "unknown"
    return state


@dataclass
class _Cached:
    at: float
    body: str
    changes: int
    """The server's count of state changes when it was drawn."""


_cache: dict[tuple[int, str], _Cached] = {}
_changes: dict[int, int] = {}


def follow_states(web: Web) -> None:
    """Count this server's state changes, so a rendered page is drawn anew after one: a
    page never shows a state that is over (a blip's "Outage" for ``CACHE_FOR`` after it
    passed). A crowd still costs one render per change or per ``CACHE_FOR``."""
    key = id(web)
    _changes[key] = 0

    def changed(*_: object) -> None:
        _changes[key] += 1

    web.engine.listeners.append(changed)


@router.get("/status")
@router.get("/status/{slug}")
async def status_page(request: Request, slug: str | None = None) -> Response:
    web = web_of(request)
    path = "/status" if slug is None else f"/status/{slug}"
    page = next((p for p in status_pages(web) if p.path == path), None)
    if page is None:
        return Response("no such status page", status_code=404, media_type="text/plain")
    key = (id(web), path)
    now = time.time()
    changes = _changes.get(id(web), 0)
    cached = _cache.get(key)
    if cached is None or now - cached.at > CACHE_FOR or cached.changes != changes:
        cached = _Cached(now, await _render(web, page, now), changes)
        _cache[key] = cached
    return Response(
        cached.body,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": f"public, max-age={int(CACHE_FOR)}"},
    )


async def _render(web: Web, page: StatusPage, now: float) -> str:
    ledger = web.engine.ledger
    components: list[dict[str, Any]] = []
    ongoing: list[dict[str, Any]] = []
    owner: dict[str, str] = {}
    for component in page.components:
        members = _members(web, component)
        states = [_public_state(web, m, now) for m in members] or ["unknown"]
        state = max(states, key=lambda s: _RANK[s])
        checks = [0] * 90
        failures = [0] * 90
        starts = [0.0] * 90
        for monitor in members:
            owner.setdefault(monitor.name, component.name)
            for index, bar in enumerate(ledger.days(monitor.name, 90, now)):
                checks[index] += bar.checks
                failures[index] += bar.failures
                starts[index] = bar.start
        days = []
        for index in range(90):
            uptime = (checks[index] - failures[index]) / checks[index] if checks[index] else None
            days.append(
                {
                    "start": starts[index] or now - (89 - index) * 86400,
                    "checks": checks[index],
                    "uptime": uptime,
                    "css": day_css(uptime),
                }
            )
        total = sum(checks)
        label = _WORDS[state]
        if state == "down" and states.count("down") < len(states):
            label = "Partial outage"
        components.append(
            {
                "name": component.name,
                "description": component.description,
                "state": "degraded" if state == "maintenance" else state,
                "label": label,
                "days": days,
                "uptime": (total - sum(failures)) / total if total else None,
            }
        )
        if state in ("down", "degraded", "maintenance"):
            since = min(
                (
                    status.since
                    for m in members
                    if (status := web.engine.status.get(m.name)) is not None
                    and str(status.state) in ("down", "degraded", "flapping")
                ),
                default=now,
            )
            ongoing.append(
                {
                    "component": component.name,
                    "state": "degraded" if state == "maintenance" else state,
                    "label": label,
                    "since": since,
                }
            )
    recent = await web.run(_recent, web, owner, now)
    ranks = [_RANK["down" if c["state"] == "down" else c["state"]] for c in components]
    worst = max(ranks, default=0)
    overall = {0: "unknown", 1: "up", 2: "degraded", 3: "degraded", 4: "down"}[worst]
    if components and all(c["state"] == "unknown" for c in components):
        overall = "unknown"
    return pages.env.get_template("status.html").render(
        page=page,
        components=components,
        open_incidents=ongoing,
        recent=recent,
        overall=overall,
        now=now,
        user=None,
    )


def _recent(web: Web, owner: dict[str, str], now: float) -> list[dict[str, Any]]:
    """Resolved incidents of the page's monitors in the last 14 days, one line per
    component and incident, newest first (no reasons: those are internal). Blips are left
    out: an incident no route was told of (it ended within the grouping wait) is not
    published either (see ``alerts.incidents.announced``)."""
    if not owner:
        return []
    with web.engine.store.read() as connection:
        found = db.incidents(
            connection, open_only=False, limit=200, since=now - RECENT, told_or_lasting=QUIET_FOR
        )
    routes = web.config.routes
    lines = []
    for incident in found:
        component = owner.get(incident.monitor)
        if component is None or incident.closed_at is None:
            continue
        if not announced(incident, web.engine.monitors.get(incident.monitor), routes):
            continue
        worst = "down" if incident.worst == "down" else "degraded"
        lines.append(
            {
                "component": component,
                "state": worst,
                "label": "Outage" if worst == "down" else "Degraded performance",
                "since": incident.opened_at,
                "duration": incident.closed_at - incident.opened_at,
            }
        )
    return lines[:50]


# -- badges ------------------------------------------------------------------------------------
_COLORS = {
    "up": "#16a34a",
    "degraded": "#d97706",
    "down": "#dc2626",
    "flapping": "#9333ea",
    "paused": "#64748b",
    "unknown": "#94a3b8",
}


@router.get("/badge/{name}/{kind}.svg")
async def badge(
    request: Request,
    name: str,
    kind: str,
    window: str = Query("30d", pattern="^(24h|7d|30d|90d)$"),
) -> Response:
    """``status``, ``uptime`` (``?window=24h|7d|30d|90d``) or ``latency`` of a public monitor."""
    web = web_of(request)
    monitor = web.engine.monitors.get(name)
    if (
        monitor is None
        or not is_public(web, monitor)
        or kind not in ("status", "uptime", "latency")
    ):
        # the same answer whether the monitor is private or missing: nothing to learn here
        return Response("no such badge", status_code=404, media_type="text/plain")
    now = time.time()
    status = web.engine.status.get(name)
    state = str(status.state) if status else "unknown"
    if kind == "status":
        value, color = state, _COLORS.get(state, _COLORS["unknown"])
    elif kind == "uptime":
        uptime = web.engine.ledger.uptime(name, BADGE_WINDOWS[window], now)
        if uptime is None:
            value, color = "no data", _COLORS["unknown"]
        else:
            value = f"{int(uptime * 10000) / 100:g}%"
            color = (
                _COLORS["up"]
                if uptime >= 0.999
                else "#84cc16"
                if uptime >= 0.99
                else _COLORS["degraded"]
                if uptime >= 0.95
                else _COLORS["down"]
            )
        name = f"{name} {window}"
    else:
        last = status.last_result if status else None
        if last is None or last.latency is None or not last.ok:
            value, color = "n/a", _COLORS["unknown"]
        else:
            milliseconds = last.latency * 1000
            value = f"{milliseconds:.0f}ms" if milliseconds >= 10 else f"{milliseconds:.1f}ms"
            color = _COLORS["up"] if milliseconds < 500 else _COLORS["degraded"]
    return Response(
        _svg(name, value, color),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=60"},
    )


def _width(text: str) -> int:
    return int(len(text) * 6.6) + 12


def _svg(label: str, value: str, color: str) -> str:
    left, right = _width(label), _width(value)
    total = left + right
    label, value = escape(label), escape(value)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{label}: {value}"><title>{label}: {value}</title>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{color}"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" '
        'font-size="11">'
        f'<text x="{left / 2}" y="14">{label}</text>'
        f'<text x="{left + right / 2}" y="14">{value}</text></g></svg>'
    )
