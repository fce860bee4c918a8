"""``/api/v1/monitors``: list, read, define (create, replace, delete), run now, and history
(raw results, chart series, uptime) and diagnosis (what changed in its latency and which
phase moved, as ``wk diagnose --monitor`` tells it) of every monitor.

Monitors from the config file are read-only here (409, naming the file); monitors defined
through the API are validated exactly as the config's are, with its defaults and routes, and
kept in the store, so they survive restarts.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response

from watchkeeper.auth import Principal
from watchkeeper.config import LOCAL, Monitor, load_api_monitor
from watchkeeper.engine import defined
from watchkeeper.engine.defined import Broken
from watchkeeper.engine.heartbeats import Claim
from watchkeeper.errors import ConfigError, StoreError
from watchkeeper.lanes import DIAGNOSIS
from watchkeeper.model import series_name
from watchkeeper.state import MonitorStatus
from watchkeeper.store.pings import UuidTaken
from watchkeeper.store.series import pick
from watchkeeper.web.activity import records
from watchkeeper.web.api.agents import locations_json
from watchkeeper.web.api.shapes import (
    UPTIME_WINDOWS,
    monitor_json,
    point_json,
    result_json,
)
from watchkeeper.web.context import Web, web_of
from watchkeeper.web.security import Writer, require_read
from watchkeeper.web.timeparse import parse_time

log = logging.getLogger("watchkeeper.web")
MAX_PAGE = 5000
router = APIRouter(prefix="/api/v1", tags=["monitors"], dependencies=[Depends(require_read)])

SPEC_EXAMPLE = {
    "name": "api",
    "http": "https://api.example.com/health",
    "expect": ["status == 200", "latency < 500ms"],
    "tags": ["prod"],
}


def _monitor(web: Web, name: str) -> Monitor:
    monitor = web.engine.monitors.get(name)
    if monitor is None:
        broken = web.engine.definitions.broken.get(name)
        if broken is not None:
            raise HTTPException(404, f"monitor '{name}' is not watched: {_broken(broken)}")
        raise HTTPException(404, f"no monitor named '{name}'")
    return monitor


def _broken(broken: Broken) -> str:
    return f"its stored definition is broken ({broken.reason}): PUT a valid one or DELETE it"


def _status(web: Web, monitor: Monitor) -> MonitorStatus:
    return web.engine.status.get(monitor.name) or MonitorStatus(monitor.name)


def source_of(web: Web, name: str) -> str:
    return "config" if name in {m.name for m in web.config.monitors} else "api"


def _times(since: str, until: str | None) -> tuple[float, float]:
    try:
        start = parse_time(since)
        end = parse_time(until) if until else time.time()
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if end <= start:
        raise HTTPException(422, "until must be after since")
    return start, end


@router.get("/monitors")
async def list_monitors(
    request: Request,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    state: str | None = Query(None, description="only monitors in this state"),
    tag: str | None = Query(None, description="only monitors with this tag"),
    q: str | None = Query(None, description="name or target contains this (any case)"),
    source: Literal["config", "api"] | None = None,
) -> dict[str, Any]:
    """Every monitor with its live state, last result and uptime, in config order (then the
    monitors defined through the API); ``broken`` lists stored definitions that are not
    watched (each with why: fix it with PUT or remove it with DELETE)."""
    web = web_of(request)
    now = time.time()
    config_names = {m.name for m in web.config.monitors}
    needle = q.lower() if q else None
    chosen = [
        m
        for m in web.engine.monitors.values()
        if (tag is None or tag in m.tags)
        and (state is None or str(_status(web, m).state) == state)
        and (needle is None or needle in m.name.lower() or needle in m.target.lower())
        and (source is None or (m.name in config_names) == (source == "config"))
    ]
    page = chosen[offset : offset + limit]
    broken = web.engine.definitions.broken.values() if source != "config" else ()
    return {
        "items": [
            monitor_json(
                m,
                _status(web, m),
                source="config" if m.name in config_names else "api",
                ledger=web.engine.ledger,
                now=now,
            )
            for m in page
        ],
        "total": len(chosen),
        "limit": limit,
        "offset": offset,
        "broken": [
            {"name": b.name, "kind": b.kind or None, "source": "api", "reason": b.reason}
            for b in broken
        ],
    }


@router.get("/monitors/{name}")
async def get_monitor(request: Request, name: str) -> dict[str, Any]:
    web = web_of(request)
    monitor = _monitor(web, name)
    now = time.time()
    data = monitor_json(
        monitor,
        _status(web, monitor),
        source=source_of(web, name),
        ledger=web.engine.ledger,
        now=now,
    )
    if len(monitor.locations) > 1:
        data["locations"] = locations_json(web, monitor, now)
    return data


@router.post("/monitors", status_code=201)
@records("monitor.create")
async def create_monitor(
    request: Request,
    response: Response,
    spec: Annotated[dict[str, Any], Body(examples=[SPEC_EXAMPLE])],
    who: Writer,
) -> dict[str, Any]:
    """Define a monitor: the JSON form of one ``monitors:`` entry of the config file. 409
    when the name, or a heartbeat's ``uuid``, is another monitor's."""
    web = web_of(request)
    name = spec.get("name")
    async with web.engine.definitions.changing:
        if isinstance(name, str) and name in web.engine.monitors:
            raise HTTPException(409, f"a monitor named '{name}' exists already")
        broken = web.engine.definitions.broken.get(name) if isinstance(name, str) else None
        if broken is not None:
            raise HTTPException(409, f"a monitor named '{name}' exists already: {_broken(broken)}")
        monitor = await _define(web, spec, who)
    response.headers["Location"] = f"/api/v1/monitors/{quote(monitor.name, safe='')}"
    return monitor_json(monitor, _status(web, monitor), source="api")


@router.put("/monitors/{name}")
@records("monitor.update")
async def replace_monitor(
    request: Request,
    response: Response,
    name: str,
    spec: Annotated[dict[str, Any], Body(examples=[SPEC_EXAMPLE])],
    who: Writer,
) -> dict[str, Any]:
    """Create or replace a monitor defined through the API (state and history stay); also
    how a broken stored definition is mended. 409 when a heartbeat's ``uuid`` is another
    monitor's."""
    web = web_of(request)
    _writable(web, name)
    if spec.setdefault("name", name) != name:
        raise HTTPException(422, f"the body names '{spec['name']}', the path '{name}'")
    async with web.engine.definitions.changing:
        existed = name in web.engine.monitors or name in web.engine.definitions.broken
        monitor = await _define(web, spec, who)
    if not existed:
        response.status_code = 201
    return monitor_json(monitor, _status(web, monitor), source="api")


@router.delete("/monitors/{name}", status_code=204)
@records("monitor.delete")
async def delete_monitor(request: Request, name: str, who: Writer) -> Response:
    """Stop watching a monitor defined through the API, or remove a broken stored
    definition; its history stays in the store."""
    web = web_of(request)
    async with web.engine.definitions.changing:
        broken = name in web.engine.definitions.broken
        if not broken:
            _monitor(web, name)
        _writable(web, name)
        dependants = [m.name for m in web.engine.monitors.values() if name in m.depends_on]
        if dependants:
            raise HTTPException(
                409, f"{', '.join(dependants)} depend on '{name}': change them first"
            )
        await web.run(defined.remove, web.engine.store, name)
        web.engine.definitions.broken.pop(name, None)
        if not broken:
            web.engine.remove_monitor(name)
    return Response(status_code=204)


def _writable(web: Web, name: str) -> None:
    found = next((m for m in web.config.monitors if m.name == name), None)
    if found is not None:
        where = f"{web.config.path}:{found.line}" if found.line else web.config.path
        raise HTTPException(
            409, f"monitor '{name}' is defined in {where} and is read-only here: edit the file"
        )


async def _define(web: Web, spec: dict[str, Any], who: Principal) -> Monitor:
    """Validate, store (one transaction) and watch; the caller holds ``changing``."""
    engine = web.engine
    try:
        monitor = load_api_monitor(spec, web.config, engine.monitors.values())
    except ConfigError as exc:
        raise HTTPException(
            422, [problem.one_line().removeprefix("api: ") for problem in exc.problems]
        ) from None
    clash = defined.uuid_clash(engine.heartbeats, monitor)
    if clash is not None:
        raise HTTPException(409, clash)

    def keep() -> tuple[Claim | None, dict[str, list[tuple[float, float]]]]:
        claim = defined.keep(engine.store, engine.heartbeats, monitor, spec, who.name, time.time())
        if not monitor.anomaly:
            return claim, {}
        try:  # its detectors start from what the store holds, as at start-up
            return claim, engine.anomalies.history(engine.store, monitor)
        except StoreError as exc:  # the detectors start blind; the definition is kept
            log.warning(
                "no stored history for the anomaly detection of '%s': %s", monitor.name, exc
            )
            return claim, {}

    try:
        claim, history = await web.run(keep)
    except UuidTaken as exc:
        raise HTTPException(409, str(exc)) from None
    defined.watch(engine.heartbeats, monitor, claim)
    engine.definitions.broken.pop(monitor.name, None)
    engine.put_monitor(monitor)
    if monitor.anomaly:
        engine.anomalies.feed(monitor, history)
    return monitor


@router.post("/monitors/{name}/check")
@records("monitor.check")
async def check_now(request: Request, name: str, _: Writer) -> dict[str, Any]:
    """Run the monitor's check now and answer with its result (its state follows it)."""
    web = web_of(request)
    monitor = _monitor(web, name)
    if monitor.paused:
        raise HTTPException(409, f"monitor '{name}' is paused")
    result = await web.engine.check_now(name, monitor.timeout + 5.0)
    if result is None:
        raise HTTPException(504, f"the check of '{name}' did not finish in time")
    return result_json(result)


@router.get("/monitors/{name}/results")
async def monitor_results(
    request: Request,
    name: str,
    since: str = Query("1h", description="6h (ago), epoch seconds or ISO 8601"),
    until: str | None = None,
    limit: int = Query(1000, ge=1, le=MAX_PAGE),
    failed: bool = False,
    order: Literal["asc", "desc"] = Query(
        "asc", description="asc: oldest first from since; desc: newest first back to since"
    ),
    location: str | None = Query(
        None, description="One location's checks (eu-west); default: the nodes' own (local)"
    ),
) -> dict[str, Any]:
    """Raw results in ``[since, until)``, at most ``limit``; ``truncated`` says there were
    more (ask again from the last one's ``at``, or with ``order=desc``)."""
    web = web_of(request)
    monitor = _monitor(web, name)
    if location is not None and location not in monitor.locations:
        raise HTTPException(404, f"{name} is not checked from '{location[:60]}'")
    try:
        start = parse_time(since)
        end = parse_time(until) if until else None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    results = await web.run(
        web.engine.store.results,
        series_name(name, None if location in (None, LOCAL) else location),
        start,
        end,
        limit + 1,
        failed_only=failed,
        newest_first=order == "desc",
    )
    return {
        "monitor": name,
        "since": start,
        "until": end,
        "order": order,
        "items": [result_json(replace(r, location=location)) for r in results[:limit]],
        "limit": limit,
        "truncated": len(results) > limit,
    }


@router.get("/monitors/{name}/series")
async def monitor_series(
    request: Request,
    name: str,
    since: str = Query("24h", description="6h (ago), epoch seconds or ISO 8601"),
    until: str | None = None,
    resolution: Literal["auto", "raw", "1m", "1h"] = Query(
        "auto",
        description="auto: every result while that is at most ~3000 points (and up to 6h), "
        "else 1-minute rollups up to 3d, else 1-hour; judged on the span that has results",
    ),
    limit: int = Query(5000, ge=1, le=20_000),
) -> dict[str, Any]:
    """Latency (p50, p95, max and the median of each phase) and failures over time, for
    charts."""
    web = web_of(request)
    monitor = _monitor(web, name)
    start, end = _times(since, until)
    chosen: str = resolution
    if resolution == "auto":  # by the span there is data for: a young monitor's every check
        first = await web.run(web.engine.store.first_time, name, start)
        chosen = pick(max(start, first or start), end, monitor.interval)
    points = await web.run(web.engine.store.series, name, start, end, chosen, limit)
    return {
        "monitor": name,
        "since": start,
        "until": end,
        "resolution": chosen,
        "points": [point_json(p) for p in points],
    }


@router.get("/monitors/{name}/metrics")
async def monitor_metrics(
    request: Request,
    name: str,
    since: str = Query("24h", description="series seen since: 6h (ago), epoch or ISO 8601"),
) -> dict[str, Any]:
    """The series this monitor's check records (its numeric observations: ``pg.connections``,
    ``disk./.used_pct``, ``metric.up.value``...), each with its newest value."""
    web = web_of(request)
    _monitor(web, name)
    start, _ = _times(since, None)
    found = await web.run(web.engine.store.sample_names, name, start)
    return {
        "monitor": name,
        "items": [{"name": item.name, "at": item.at, "value": item.value} for item in found],
    }


@router.get("/monitors/{name}/metrics/series")
async def monitor_metric_series(
    request: Request,
    name: str,
    metric: str = Query(..., description="a series name from /metrics, e.g. disk./.used_pct"),
    since: str = Query("24h", description="6h (ago), epoch seconds or ISO 8601"),
    until: str | None = None,
    resolution: Literal["auto", "raw", "1m", "1h"] = Query(
        "auto", description="as for /series: raw, then 1-minute, then 1-hour rollups"
    ),
    limit: int = Query(5000, ge=1, le=20_000),
) -> dict[str, Any]:
    """One series over time: per point ``count``, ``min``, ``max``, ``mean`` and ``last``
    (raw samples are points of one)."""
    web = web_of(request)
    monitor = _monitor(web, name)
    start, end = _times(since, until)
    chosen: str = resolution
    if resolution == "auto":
        first = await web.run(web.engine.store.first_time, name, start, metric)
        chosen = pick(max(start, first or start), end, monitor.interval)
    points = await web.run(web.engine.store.samples, name, metric, start, end, chosen, limit)
    return {
        "monitor": name,
        "metric": metric,
        "since": start,
        "until": end,
        "resolution": chosen,
        "points": [
            {
                "at": p.at,
                "count": p.count,
                "min": p.min,
                "max": p.max,
                "mean": p.mean,
                "last": p.last,
            }
            for p in points
        ],
    }


@router.get("/monitors/{name}/diagnosis")
async def monitor_diagnosis(
    request: Request,
    name: str,
    since: str = Query("6h", description="the recent period to explain, e.g. 6h"),
    baseline: str = Query("1d", description="how far before it the baseline reaches"),
) -> dict[str, Any]:
    """What changed in this monitor's latency over ``since`` against the ``baseline`` before
    it (level shift with onset, trend, spikes, failures, the phase that moved, series that
    jumped): ``{"findings": [...]}``, most important first, as ``wk diagnose --format json``."""
    from watchkeeper.diagnosis import Window
    from watchkeeper.diagnosis.monitors import diagnose_monitor
    from watchkeeper.diagnosis.run import NOT_DIAGNOSED, coincide
    from watchkeeper.findings import ranked
    from watchkeeper.units import parse_duration

    web = web_of(request)
    monitor = _monitor(web, name)
    try:
        recent, before = parse_duration(since), parse_duration(baseline)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    longest = 30 * 86400.0
    if not (0 < recent <= longest and 0 < before <= longest):
        raise HTTPException(422, "since and baseline must be above zero and at most 30d")
    if monitor.kind in NOT_DIAGNOSED:
        return {"monitor": name, "findings": []}
    window = Window(now=time.time(), since=recent, baseline=before)
    async with web.diagnosing:
        found = await DIAGNOSIS.run(diagnose_monitor, web.engine.store, name, window)
    return {"monitor": name, "findings": [f.as_json() for f in ranked(coincide(found))]}


@router.get("/monitors/{name}/uptime")
async def monitor_uptime(
    request: Request, name: str, days: int = Query(90, ge=1, le=90)
) -> dict[str, Any]:
    """Uptime over the last 24 h, 7 d and 30 d, and per day (UTC) for the last ``days``."""
    web = web_of(request)
    _monitor(web, name)
    now = time.time()
    ledger = web.engine.ledger
    return {
        "monitor": name,
        "uptime": {label: ledger.uptime(name, span, now) for label, span in UPTIME_WINDOWS.items()},
        "days": [
            {"day": bar.start, "checks": bar.checks, "failures": bar.failures, "uptime": bar.uptime}
            for bar in ledger.days(name, days, now)
        ],
    }
