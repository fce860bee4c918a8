"""The Errors page (the issues the Sentry-compatible ingest grouped events into, per project,
with their last 24 hours as small hourly bars) and an issue's page: its facts, releases,
environments and tags, events over time (``static/errors.js`` draws them with uPlot from
the counts the page carries), and its recent events with their stack traces, exception
chains, breadcrumbs, request, user and tags.

Everything an event holds came from a browser or an app the target controls: the templates
print it through Jinja's autoescaping only. The status forms post here with the session's
CSRF token (``require_write``), as the dashboard's other forms do.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from watchkeeper.store import issues as db
from watchkeeper.web.activity import records
from watchkeeper.web.api.shapes import RowId
from watchkeeper.web.context import Web, web_of
from watchkeeper.web.pages.overview import troubled
from watchkeeper.web.pages.render import Pages
from watchkeeper.web.security import Reader, Writer

router = APIRouter(include_in_schema=False)
pages = Pages()
PAGE_SIZE = 50
STATUSES = ("unresolved", "resolved", "ignored")
HOURS = 24
EVENTS_SHOWN = 20
WINDOWS = {"1h": (3600, 60), "24h": (86400, 900), "7d": (7 * 86400, 3 * 3600)}
"""The issue chart's windows: (span, step) in seconds."""
MAX_QUERY = 200


def _hourly(counts: list[db.MinuteCount], now: float) -> dict[int, list[int]]:
    """Each issue's events per hour over the last ``HOURS`` hours, oldest first."""
    start = (int(now) // 3600 - HOURS + 1) * 3600
    found: dict[int, list[int]] = {}
    for row in counts:
        slot = (row.minute - start) // 3600
        if 0 <= slot < HOURS:
            found.setdefault(row.issue_id, [0] * HOURS)[slot] += row.count
    return found


def _bars(hours: list[int] | None, width: int = 120, height: int = 24) -> list[dict[str, int]]:
    """SVG rectangles for the small hourly bars (a zero hour: a one-pixel line)."""
    if not hours:
        return []
    top = max(hours) or 1
    step = width // len(hours)
    return [
        {
            "x": index * step,
            "y": height - (tall := max(1, round(count / top * height))),
            "w": max(1, step - 1),
            "h": tall,
            "n": count,
            "zero": int(count == 0),
        }
        for index, count in enumerate(hours)
    ]


@router.get("/errors")
async def errors_page(
    request: Request,
    user: Reader,
    project: str = Query("", max_length=MAX_QUERY),
    status: str = Query("unresolved", max_length=20),
    q: str = Query("", max_length=MAX_QUERY),
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    web = web_of(request)
    tracker = web.engine.errors
    await tracker.refresh()
    projects = sorted(tracker.projects.values(), key=lambda p: p.name.lower())
    chosen = tracker.by_name(project) if project else None
    status = status if status in (*STATUSES, "all") else "unresolved"
    query = q.replace("\x00", "").strip()
    now = time.time()

    def read() -> tuple[list[db.Issue], int, list[db.MinuteCount]]:
        with web.engine.store.read() as connection:
            found, total = db.issues(
                connection,
                project_id=chosen.id if chosen else None,
                status=None if status == "all" else status,
                query=query or None,
                sort="last_seen",
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            )
            since = (int(now) // 3600 - HOURS + 1) * 3600
            counts = db.minute_counts(connection, [i.id for i in found], since, now + 60)
            return found, total, counts

    found: list[db.Issue] = []
    total = 0
    counts: list[db.MinuteCount] = []
    if not (project and chosen is None):
        found, total, counts = await web.run(read)
    hourly = _hourly(counts, now)
    rows = [
        {
            "issue": issue,
            "bars": _bars(hourly.get(issue.id, [0] * HOURS)),
            "day": sum(hourly.get(issue.id, [])),
        }
        for issue in found
    ]

    def link(**changed: Any) -> str:
        wanted = {"project": project, "status": status, "q": query, "page": 1, **changed}
        kept = {k: v for k, v in wanted.items() if v not in ("", None, 1) or k == "status"}
        return "/errors?" + urlencode(kept)

    return pages.render(
        "errors.html",
        section="errors",
        user=user,
        open_incidents=troubled(web),
        projects=[p.name for p in projects],
        project=project,
        unknown_project=bool(project and chosen is None),
        statuses=[*STATUSES, "all"],
        status=status,
        query=query,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        link=link,
    )


@router.get("/errors/{issue_id}")
async def issue_page(
    request: Request,
    issue_id: RowId,
    user: Reader,
    event: int = Query(0, ge=0, lt=EVENTS_SHOWN),
    window: str = Query("24h", max_length=8),
) -> Response:
    web = web_of(request)
    window = window if window in WINDOWS else "24h"
    span, step = WINDOWS[window]
    now = time.time()

    def read() -> tuple[
        db.Issue | None, list[dict[str, Any]], dict[str, list[tuple[str, int]]], list[Any]
    ]:
        with web.engine.store.read() as connection:
            found = db.issue(connection, issue_id)
            if found is None:
                return None, [], {}, []
            return (
                found,
                db.events(connection, issue_id, EVENTS_SHOWN, user_hash=True),
                db.tag_values(connection, issue_id),
                db.minute_counts(connection, [issue_id], now - span, now + 60),
            )

    issue, events, tags, counts = await web.run(read)
    if issue is None:
        return pages.render(
            "message.html",
            404,
            user=user,
            title="No such issue",
            text=f"There is no issue #{issue_id}.",
        )
    series = _series(counts, now, span, step)
    chosen = events[event] if event < len(events) else (events[0] if events else None)
    return pages.render(
        "error_issue.html",
        section="errors",
        user=user,
        open_incidents=troubled(web),
        issue=issue,
        events=[_event_row(e) for e in events],
        event=_event_view(chosen) if chosen else None,
        event_index=event if event < len(events) else 0,
        tags=[
            {
                "key": key,
                "values": [
                    {"value": value, "count": count, "share": count / issue.count}
                    for value, count in values
                ],
            }
            for key, values in tags.items()
            if key not in ("release", "environment")
        ],
        releases=tags.get("release", []),
        environments=tags.get("environment", []),
        series=series,
        window=window,
        windows=list(WINDOWS),
        in_window=sum(series["counts"]),
        notice=request.query_params.get("notice"),
        notice_kind=request.query_params.get("kind", ""),
    )


def _series(counts: list[db.MinuteCount], now: float, span: int, step: int) -> dict[str, Any]:
    """Events per ``step`` over the last ``span`` seconds: the chart's data."""
    first = (int(now - span) // step + 1) * step
    slots = (int(now) // step) * step
    xs = list(range(first, slots + 1, step))
    found = [0] * len(xs)
    for row in counts:
        slot = (row.minute - first) // step
        if 0 <= slot < len(found):
            found[slot] += row.count
    return {"at": xs, "counts": found, "step": step}


def _event_row(event: dict[str, Any]) -> dict[str, Any]:
    """A line of the recent events list."""
    exceptions = event.get("exception") or []
    last = exceptions[-1] if exceptions else {}
    summary = ": ".join(p for p in (last.get("type"), last.get("value")) if p)
    return {
        "at": event.get("timestamp") or event.get("received_at"),
        "event_id": event.get("event_id"),
        "release": event.get("release"),
        "environment": event.get("environment"),
        "summary": summary or event.get("message") or "(no message)",
    }


def _shown_file(frame: dict[str, Any]) -> str:
    """Where a frame is, short: a URL's path (a browser's frames name whole URLs)."""
    name = frame.get("filename") or frame.get("abs_path") or frame.get("module") or "?"
    found = urlsplit(str(name))
    if found.scheme in ("http", "https") and found.netloc:
        return found.path or "/"
    return str(name)


def _frames(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most recent call first, each with the name it is shown by."""
    return [{**frame, "shown_file": _shown_file(frame)} for frame in reversed(found)]


def _event_view(event: dict[str, Any]) -> dict[str, Any]:
    """The chosen event as the template shows it: the exception chain raised-last first,
    each stack most recent call first."""
    chain = []
    for value in reversed(event.get("exception") or []):
        chain.append({**value, "frames": _frames(value.get("frames") or [])})
    lone = event.get("stacktrace")
    return {
        **event,
        "chain": chain,
        "lone_frames": _frames(lone.get("frames") or []) if lone else [],
        "lone_omitted": lone.get("frames_omitted", 0) if lone else 0,
        "user_hash": event.get("user_hash"),
        "crumbs": list(reversed(event.get("breadcrumbs") or [])),
    }


# -- status forms ------------------------------------------------------------------------------
async def _set(
    web: Web, issue_id: int, status: str, who: Any, release: str | None = None
) -> Response:
    found = await web.run(
        web.engine.store.set_issue_status,
        issue_id,
        status,
        time.time(),
        in_release=release,
        by=who.name,
    )
    if found is None:
        return pages.render(
            "message.html",
            404,
            user=who,
            title="No such issue",
            text=f"There is no issue #{issue_id}.",
        )
    words = {
        "resolved": f"Resolved in {release}." if release else "Resolved.",
        "ignored": "Ignored: its events are still counted, it never reopens by itself.",
        "unresolved": "Unresolved again.",
    }
    return _back(f"/errors/{issue_id}", words[status], "ok")


@router.post("/errors/{issue_id}/resolve")
@records("issue.resolve")
async def resolve_form(
    request: Request,
    issue_id: RowId,
    user: Writer,
    release: str = Form("", max_length=200),
) -> Response:
    """Resolve now, or in the release named (``release``; events of older releases then
    do not reopen the issue)."""
    web = web_of(request)
    wanted = release.replace("\x00", "").strip() or None
    return await _set(web, issue_id, "resolved", user, wanted)


@router.post("/errors/{issue_id}/ignore")
@records("issue.ignore")
async def ignore_form(request: Request, issue_id: RowId, user: Writer) -> Response:
    return await _set(web_of(request), issue_id, "ignored", user)


@router.post("/errors/{issue_id}/unresolve")
@records("issue.unresolve")
async def unresolve_form(request: Request, issue_id: RowId, user: Writer) -> Response:
    return await _set(web_of(request), issue_id, "unresolved", user)


def _back(path: str, notice: str, kind: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?notice={quote(notice)}&kind={kind}", status_code=303)
