"""The overview: every monitor's state, uptime and latency, trouble first, a page at a time.

Drawing every row made the page of ten thousand monitors ten megabytes, so the page holds
``PAGE_ROWS`` rows of the monitors chosen (search, state and tag are applied here, over all of
them), links to the pages after, and the counts per state of the whole fleet. That works as it
is without JavaScript (the filter form and the links are plain GETs); with it, ``app.js`` asks
``/overview/rows`` for the same view as JSON when a filter changes, and every 5 s for live
updates (so a monitor that goes down elsewhere in the list comes to the first page).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup

from watchkeeper.config import Monitor
from watchkeeper.state import MonitorStatus
from watchkeeper.web.context import Web, web_of
from watchkeeper.web.pages.render import (
    STATE_LABELS,
    STATE_ORDER,
    Pages,
    clock,
    ms,
    pct,
    sparkline,
    uptime_class,
)
from watchkeeper.web.security import Reader

router = APIRouter(include_in_schema=False)
pages = Pages()
row_template = pages.env.get_template("overview_row.html")
PAGE_ROWS = 100
"""Rows on one page of the overview: a screenful or two, about 100 KB of HTML."""
MAX_QUERY = 200
"""Characters of a search or a tag kept (a name, a target or a tag is rarely longer)."""
TROUBLE = ("down", "degraded", "flapping")


@dataclass(frozen=True, slots=True)
class View:
    """What the person asked to see: a search, a state, a tag, a page."""

    q: str = ""
    state: str = ""
    tag: str = ""
    page: int = 1

    def query(self, **changes: Any) -> str:
        """This view's address (with ``changes``), as the page and its links carry it."""
        wanted = {"q": self.q.strip(), "state": self.state, "tag": self.tag, "page": self.page}
        wanted.update(changes)
        if wanted["page"] == 1:
            wanted["page"] = ""
        text = urlencode({k: v for k, v in wanted.items() if v})
        return f"/?{text}" if text else "/"


@dataclass(slots=True)
class Chosen:
    """One page of the monitors a view picks, and what the whole fleet counts."""

    rows: list[tuple[Monitor, MonitorStatus]]
    shown: int
    """How many monitors the view picks, on every page."""
    counts: dict[str, int]
    page: int
    pages: int


def choose(web: Web, view: View) -> Chosen:
    """Filter all monitors, trouble first (config order within a state), and cut the page.

    One pass over the fleet and no sort: the monitors are grouped by state in config order
    (the groups' sizes are the counts), filtered, and the groups taken in ``STATE_ORDER``;
    10,000 monitors take a few milliseconds."""
    engine = web.engine
    statuses = engine.status
    every: defaultdict[str, list[tuple[Monitor, MonitorStatus | None]]] = defaultdict(list)
    for monitor in engine.monitors.values():
        status = statuses.get(monitor.name)
        every["unknown" if status is None else status.state].append((monitor, status))
    counts = {str(state): len(found) for state, found in every.items()}
    needle = view.q.strip().lower()
    by_state = {str(state): found for state, found in every.items()}
    if view.state:
        by_state = {view.state: by_state.get(view.state, [])}
    if view.tag:
        by_state = {
            state: [row for row in found if view.tag in row[0].tags]
            for state, found in by_state.items()
        }
    if needle:
        by_state = {
            state: [
                row
                for row in found
                if needle in row[0].name.lower() or needle in row[0].target.lower()
            ]
            for state, found in by_state.items()
        }
    shown = sum(len(found) for found in by_state.values())
    pages = max(1, -(-shown // PAGE_ROWS))
    page = min(view.page, pages)
    first = (page - 1) * PAGE_ROWS
    rows: list[tuple[Monitor, MonitorStatus]] = []
    for state in sorted(by_state, key=lambda state: STATE_ORDER.get(state, 9)):
        found = by_state[state]
        if first >= len(found):
            first -= len(found)
            continue
        for monitor, status in found[first : first + PAGE_ROWS - len(rows)]:
            rows.append((monitor, status or MonitorStatus(monitor.name)))
        first = 0
        if len(rows) == PAGE_ROWS:
            break
    return Chosen(rows, shown, counts, page, pages)


def _view(q: str, state: str, tag: str, page: int) -> View:
    """The view asked for, cut to size: an unknown state is no filter."""
    state = state if state in STATE_LABELS else ""
    return View(q=q[:MAX_QUERY], state=state, tag=tag[:MAX_QUERY], page=page)


def troubled(web: Web, counts: dict[str, int] | None = None) -> int:
    """Monitors in trouble now (the count beside Incidents in the top bar); from ``counts``
    per state where the caller has them."""
    if counts is not None:
        return sum(counts.get(state, 0) for state in TROUBLE)
    return sum(1 for s in web.engine.status.values() if str(s.state) in TROUBLE)


@router.get("/")
async def overview(
    request: Request,
    user: Reader,
    state: str = "",
    tag: str = "",
    q: str = "",
    page: int = Query(1, ge=1, le=1_000_000),
) -> Response:
    web = web_of(request)
    engine = web.engine
    view = _view(q, state, tag, page)
    now = time.time()
    chosen = choose(web, view)
    parts = _parts(web, view, chosen, now)
    tags = sorted({t for m in engine.monitors.values() for t in m.tags})
    return pages.render(
        "overview.html",
        section="monitors",
        user=user,
        rows=parts["rows"],
        pager=parts["pager"],
        summary=parts["summary"],
        total=len(engine.monitors),
        counts=chosen.counts,
        shown=chosen.shown,
        tags=tags,
        view=view,
        selected_state=view.state,
        selected_tag=view.tag,
        query=view.q,
        open_incidents=troubled(web, chosen.counts),
        broken=[
            {"name": b.name, "kind": b.kind, "reason": b.reason, "link": quote(b.name, safe="")}
            for b in engine.definitions.broken.values()
        ],
        notice=request.query_params.get("notice"),
        notice_kind=request.query_params.get("kind", ""),
        now=now,
    )


@router.get("/overview/rows")
async def overview_rows(
    request: Request,
    user: Reader,
    state: str = "",
    tag: str = "",
    q: str = "",
    page: int = Query(1, ge=1, le=1_000_000),
) -> JSONResponse:
    """The overview's changing parts for one view, drawn as on the page: what its script
    asks for when a filter changes and for live updates."""
    web = web_of(request)
    view = _view(q, state, tag, page)
    chosen = choose(web, view)
    parts = _parts(web, view, chosen, time.time())
    return JSONResponse(
        {
            "address": View(view.q, view.state, view.tag, chosen.page).query(),
            "rows": str(parts["rows"]),
            "pager": str(parts["pager"]),
            "summary": str(parts["summary"]),
            "shown": chosen.shown,
            "total": len(web.engine.monitors),
            "counts": chosen.counts,
            "page": chosen.page,
            "pages": chosen.pages,
            "open_incidents": troubled(web, chosen.counts),
        },
        headers={"Cache-Control": "no-store"},
    )


def _parts(web: Web, view: View, chosen: Chosen, now: float) -> dict[str, Markup]:
    minute = int(now // 60)
    rows = Markup("").join(
        Markup(_row(web, monitor, status, minute, now)) for monitor, status in chosen.rows
    )
    first = (chosen.page - 1) * PAGE_ROWS
    macros: Any = pages.env.get_template("overview_parts.html").module
    here = View(view.q, view.state, view.tag, chosen.page)
    pager = macros.pager(
        first=first + 1 if chosen.rows else 0,
        last=first + len(chosen.rows),
        shown=chosen.shown,
        page=chosen.page,
        pages=chosen.pages,
        previous=here.query(page=chosen.page - 1) if chosen.page > 1 else None,
        next=here.query(page=chosen.page + 1) if chosen.page < chosen.pages else None,
    )
    problems = sum(chosen.counts.get(s, 0) for s in TROUBLE)
    summary = macros.summary(total=len(web.engine.monitors), problems=problems)
    return {"rows": rows, "pager": Markup(pager), "summary": Markup(summary)}


_ROWS: dict[int, dict[str, tuple[Monitor, tuple[Any, ...], str]]] = {}
"""Per app: each monitor's overview row as last drawn, and what it was drawn from."""


def _row(web: Web, monitor: Monitor, status: MonitorStatus, minute: int, now: float) -> str:
    """One overview row, drawn again only when something it shows may have changed (a new
    result, a state change, another minute for the uptime and sparkline)."""
    last = status.last_result
    key = (
        str(status.state),
        status.reason,
        last.started_at if last else None,
        minute,
        web.engine.ledger.version(monitor.name),
    )
    cache = _ROWS.setdefault(id(web), {})
    hit = cache.get(monitor.name)
    if hit is not None and hit[0] is monitor and hit[1] == key:
        return hit[2]
    ledger = web.engine.ledger
    state = key[0]
    uptimes = [ledger.uptime(monitor.name, span, now) for span in (86400, 7 * 86400, 30 * 86400)]
    reason = status.reason if state in TROUBLE and status.reason else ""
    html = row_template.render(
        r={
            "name": monitor.name,
            "link": quote(monitor.name, safe=""),
            "state": state,
            "label": STATE_LABELS.get(state, state),
            "tag_list": monitor.tags,
            "kind": monitor.kind,
            "target": monitor.target,
            "reason": reason if len(reason) <= 80 else reason[:77] + "...",
            "reason_class": " warn" if state == "degraded" else "",
            "u1": pct(uptimes[0]),
            "u1c": uptime_class(uptimes[0]),
            "u7": pct(uptimes[1]),
            "u7c": uptime_class(uptimes[1]),
            "u30": pct(uptimes[2]),
            "u30c": uptime_class(uptimes[2]),
            "spark": sparkline(ledger.sparkline(monitor.name, now)),
            "latency": ms(last.latency * 1000 if last and last.latency is not None else None),
            "at": last.started_at if last else "",
            "clock": clock(last.started_at) if last else "",
            "clock_short": clock(last.started_at, "%H:%M:%S") if last else "never",
        }
    )
    cache[monitor.name] = (monitor, key, html)
    if len(cache) > 2 * len(web.engine.monitors) + 100:  # monitors were removed
        for name in [n for n in cache if n not in web.engine.monitors]:
            del cache[name]
    return html
