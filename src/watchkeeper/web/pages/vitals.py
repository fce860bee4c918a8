"""The Web Vitals page: what real browsers measured (``/rum.js``), per page group and metric
— each p75 in its rating's colour — and for the chosen group and metric the p75 over time,
the good / needs-improvement / poor distribution over time (``static/vitals.js`` draws both
from ``/api/v1/rum/series``) and the worst samples with their attribution."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from watchkeeper.rum.analysis import Summary, summarize, worst_first
from watchkeeper.rum.pages import OTHER
from watchkeeper.rum.vitals import (
    ALL_DEVICES,
    DEVICES,
    METRICS,
    THRESHOLDS,
    format_ms,
    format_value,
)
from watchkeeper.web.api.rum import tallies_of
from watchkeeper.web.context import web_of
from watchkeeper.web.pages.overview import troubled
from watchkeeper.web.pages.render import Pages
from watchkeeper.web.security import Reader

router = APIRouter(include_in_schema=False)
pages = Pages()
WINDOWS = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
METRIC_NAMES = {
    "LCP": "Largest Contentful Paint",
    "INP": "Interaction to Next Paint",
    "CLS": "Cumulative Layout Shift",
    "FCP": "First Contentful Paint",
    "TTFB": "Time to First Byte",
}
WORST_SHOWN = 10


def _cell(summary: Summary | None) -> dict[str, Any] | None:
    if summary is None or summary.p75 is None:
        return None
    return {
        "text": format_value(summary.metric, summary.p75),
        "rating": str(summary.rating),
        "samples": summary.samples,
        "good": summary.good,
        "needs_improvement": summary.needs_improvement,
        "poor": summary.poor,
    }


@router.get("/vitals")
async def vitals_page(
    request: Request,
    user: Reader,
    window: str = "24h",
    device: str = ALL_DEVICES,
    page: str | None = None,
    metric: str = "LCP",
) -> Response:
    web = web_of(request)
    window = window if window in WINDOWS else "24h"
    device = device if device in (ALL_DEVICES, *DEVICES) else ALL_DEVICES
    metric = metric if metric in METRICS else "LCP"
    until = time.time()
    since = until - WINDOWS[window]
    only = None if device == ALL_DEVICES else device
    found = await tallies_of(web, since, until, device=only)
    summaries = {
        (s.page, s.metric): s for s in summarize(found, combined=only is None) if s.device == device
    }
    groups = list(web.engine.rum.page_names)
    seen = {group for group, _ in summaries}
    groups += sorted(seen - {*groups, OTHER})  # groups of an earlier config, still in the store
    if OTHER in seen or not groups:
        groups.append(OTHER)
    cells = {group: {m: _cell(summaries.get((group, m))) for m in METRICS} for group in groups}
    rows = [{"page": group, "cells": cells[group]} for group in groups]
    chosen: str = next((g for g in groups if any(cells[g].values())), groups[0])
    if page is not None and page in groups:
        chosen = page
    worst: list[Any] = []
    if found:
        held = [
            s
            for s in web.engine.rum.open_samples(since, until)
            if s.page == chosen and s.metric == metric and (only is None or s.device == only)
        ]
        stored = await web.run(
            web.engine.store.rum_worst,
            since,
            until,
            page=chosen,
            device=only,
            metric=metric,
            limit=WORST_SHOWN,
        )
        worst = worst_first([*stored, *held], WORST_SHOWN)
    public = web.config.server.public_url or str(request.base_url).rstrip("/")
    good, poor = THRESHOLDS[metric]
    return pages.render(
        "vitals.html",
        section="vitals",
        user=user,
        open_incidents=troubled(web),
        enabled=web.engine.rum.enabled,
        origins=web.config.rum.origins if web.config.rum else (),
        script_url=f"{public}/rum.js",
        windows=list(WINDOWS),
        window=window,
        devices=[ALL_DEVICES, *DEVICES],
        device=device,
        metrics=METRICS,
        metric_names=METRIC_NAMES,
        thresholds={
            m: (format_value(m, g), format_value(m, p)) for m, (g, p) in THRESHOLDS.items()
        },
        rows=rows,
        page=chosen,
        metric=metric,
        selected=_cell(summaries.get((chosen, metric))),
        good=good,
        poor=poor,
        worst=[
            {**s.to_json(), "text": format_value(s.metric, s.value), "parts": _parts(s)}
            for s in worst
        ],
        any_data=bool(found),
        since=since,
    )


def _parts(sample: Any) -> list[tuple[str, str]]:
    """The attribution of a worst sample as (label, text) lines."""
    found = dict(sample.attribution or {})
    out: list[tuple[str, str]] = []
    labels = {
        "target": "element",
        "url": "resource",
        "interactionTarget": "target",
        "interactionType": "interaction",
        "largestShiftTarget": "shifted most",
        "loadState": "while",
    }
    for key, label in labels.items():
        if found.get(key):
            out.append((label, str(found[key])))
    timings = [
        ("timeToFirstByte", "TTFB"),
        ("resourceLoadDelay", "load delay"),
        ("resourceLoadDuration", "load"),
        ("elementRenderDelay", "render delay"),
        ("inputDelay", "input delay"),
        ("processingDuration", "processing"),
        ("presentationDelay", "presentation"),
        ("firstByteToFCP", "first byte to FCP"),
        ("waitingDuration", "waiting"),
        ("dnsDuration", "DNS"),
        ("connectionDuration", "connection"),
        ("requestDuration", "request"),
    ]
    phases = [
        f"{label} {format_ms(float(found[key]))}"
        for key, label in timings
        if isinstance(found.get(key), int | float)
    ]
    if phases:
        out.append(("phases", " · ".join(phases)))
    if isinstance(found.get("largestShiftValue"), int | float):
        out.append(("largest shift", format_value("CLS", float(found["largestShiftValue"]))))
    return out
