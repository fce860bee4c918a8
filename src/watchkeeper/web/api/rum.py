"""``/api/v1/rum``: what real browsers measured (the beacons ``/rum`` took): each page group's
p75 and rating per device class and metric over a window, one p75 over time with the
good / needs-improvement / poor shares, and the worst samples with their attribution.

Each answer adds what the store holds (read on the web's threads) to what the collector
still sums in memory (the minute in progress), so a beacon counts at once.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from watchkeeper.rum.analysis import pick_step, series, summarize, worst_first
from watchkeeper.rum.pages import OTHER
from watchkeeper.rum.vitals import ALL_DEVICES, THRESHOLDS, UNITS
from watchkeeper.units import parse_duration
from watchkeeper.web.context import Web, web_of
from watchkeeper.web.security import require_read
from watchkeeper.web.timeparse import parse_time

router = APIRouter(prefix="/api/v1/rum", tags=["rum"], dependencies=[Depends(require_read)])

Metric = Literal["LCP", "INP", "CLS", "FCP", "TTFB"]
Device = Literal["mobile", "tablet", "desktop", "all"]
LONGEST = 400 * 86400.0
PAGE = Query(None, min_length=1, max_length=64, description="a page group (rum: pages:, other)")


def _span(since: str, until: str | None) -> tuple[float, float]:
    try:
        start = parse_time(since)
        end = parse_time(until) if until else time.time()
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if not end > start or end - start > LONGEST:
        raise HTTPException(422, "until must be after since, at most 400d apart")
    return start, end


def _device(device: str | None) -> str | None:
    return None if device in (None, ALL_DEVICES) else device


def pages_of(web: Web) -> list[str]:
    return [*web.engine.rum.page_names, OTHER]


async def tallies_of(
    web: Web,
    since: float,
    until: float,
    *,
    page: str | None = None,
    device: str | None = None,
    metric: str | None = None,
) -> list[Any]:
    """Stored and held tallies of ``[since, until)`` matching the filters."""
    held = [
        t
        for t in web.engine.rum.open_tallies(since, until)
        if (page is None or t.page == page)
        and (device is None or t.device == device)
        and (metric is None or t.metric == metric)
    ]
    stored = await web.run(
        web.engine.store.rum_tallies, since, until, page=page, device=device, metric=metric
    )
    return [*stored, *held]


@router.get("/summary")
async def rum_summary(
    request: Request,
    window: str = Query("1h", description="how far back: 15m, 1h, 7d (at most 400d)"),
    page: str | None = PAGE,
    device: Annotated[
        Device | None, Query(description="one device class (default: each, and all)")
    ] = None,
) -> dict[str, Any]:
    """The p75, its rating and the good / needs-improvement / poor shares of each page group,
    device class (and ``all`` of them) and metric over ``window``."""
    web = web_of(request)
    try:
        seconds = parse_duration(window)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if not 60 <= seconds <= LONGEST:
        raise HTTPException(422, "window must be between 1m and 400d")
    until = time.time()
    since = until - seconds
    found = await tallies_of(web, since, until, page=page, device=_device(device))
    items = summarize(found, combined=device is None)
    return {
        "since": since,
        "until": until,
        "window_s": seconds,
        "enabled": web.engine.rum.enabled,
        "pages": pages_of(web),
        "thresholds": {
            m: {"good": g, "poor": p, "unit": UNITS[m]} for m, (g, p) in THRESHOLDS.items()
        },
        "items": [item.to_json() for item in items],
    }


@router.get("/series")
async def rum_series(
    request: Request,
    page: Annotated[str, Query(min_length=1, max_length=64, description="a page group")],
    metric: Annotated[Metric, Query(description="LCP, INP, CLS, FCP or TTFB")],
    device: Device = "all",
    since: str = Query("24h", description="6h (ago), epoch seconds or ISO 8601"),
    until: str | None = Query(None, description="default: now"),
) -> dict[str, Any]:
    """One page group's p75 of ``metric`` over time, with each step's shares of good,
    needs-improvement and poor samples (steps of 1 minute to a day, at most 300)."""
    web = web_of(request)
    start, end = _span(since, until)
    step = pick_step(end - start)
    found = await tallies_of(web, start, end, page=page, device=_device(device), metric=metric)
    good, poor = THRESHOLDS[metric]
    return {
        "page": page,
        "metric": metric,
        "device": device,
        "since": start,
        "until": end,
        "step_s": step,
        "unit": UNITS[metric],
        "thresholds": {"good": good, "poor": poor},
        "points": [point.to_json() for point in series(metric, found, step)],
    }


@router.get("/worst")
async def rum_worst(
    request: Request,
    page: str | None = PAGE,
    metric: Metric | None = None,
    device: Device = "all",
    since: str = Query("24h", description="6h (ago), epoch seconds or ISO 8601"),
    until: str | None = Query(None, description="default: now"),
    limit: int = Query(20, ge=1, le=200),
) -> dict[str, Any]:
    """The worst samples kept (each page group, device and metric keeps its 10 worst an
    hour) with web-vitals' attribution: the LCP element and its resource's timing parts,
    the INP target and its phases, the element that shifted most."""
    web = web_of(request)
    start, end = _span(since, until)
    wanted = _device(device)
    held = [
        s
        for s in web.engine.rum.open_samples(start, end)
        if (page is None or s.page == page)
        and (wanted is None or s.device == wanted)
        and (metric is None or s.metric == metric)
    ]
    stored = await web.run(
        web.engine.store.rum_worst,
        start,
        end,
        page=page,
        device=wanted,
        metric=metric,
        limit=limit,
    )
    return {
        "since": start,
        "until": end,
        "items": [s.to_json() for s in worst_first([*stored, *held], limit)],
    }
