"""The agents' side of the API (protocol in ``cluster.wire``): an agent's token reads its
location's assignment and pushes results; people read ``/api/v1/agents``.

Everything an agent sends is hostile until checked: the body is capped before and after
gzip, each result is checked and capped (``wire.decode``), results of monitors not assigned
to the token's location are refused, and each location may push only so many results a
second (twice what its assignment makes, plus room for a buffer emptied after an outage):
beyond it, 429 with Retry-After, and the agent keeps the batch.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import time
import zlib
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from watchkeeper.auth import Principal
from watchkeeper.cluster.agents import agent_json, locations_view, overview
from watchkeeper.cluster.wire import MAX_BODY, MAX_RESULTS, PROTOCOL, WireError, decode
from watchkeeper.config import Monitor
from watchkeeper.model import Result
from watchkeeper.store import agents as db
from watchkeeper.web.context import Web, web_of
from watchkeeper.web.security import Reader, require_agent

router = APIRouter(prefix="/api/v1", tags=["agents"])
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not a push: not JSON, or not an object"},
    409: {"description": "The agent speaks another protocol"},
    413: {"description": "Over 4 MiB (before or after gzip), or over 5,000 results"},
    415: {"description": "Neither plain nor gzip"},
    429: {"description": "More results than the location may push now (Retry-After)"},
}
AgentToken = Annotated[Principal, Depends(require_agent)]

PUSH_EVERY = 5.0
"""Seconds between an agent's pushes (it is told so with its assignment)."""
_SENT = (
    "name",
    "interval",
    "timeout",
    "retry_interval",
    "confirm",
    "recover",
    "expect",
    "warn",
    "locations",
    "quorum",
)
"""What of a monitor's entry an agent is sent besides its kind's settings (not its routes,
runbook or dependencies: an agent only checks)."""


@dataclass
class _Bucket:
    level: float
    at: float


@dataclass
class _Limits:
    """Results per second each location may push (a token bucket per location)."""

    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, location: str, count: int, rate: float, burst: float, now: float) -> float:
        """0 when ``count`` results may be taken now, else seconds to wait."""
        bucket = self.buckets.setdefault(location, _Bucket(burst, now))
        bucket.level = min(burst, bucket.level + (now - bucket.at) * rate)
        bucket.at = now
        if count <= bucket.level:
            bucket.level -= count
            return 0.0
        return (count - bucket.level) / rate


@dataclass(frozen=True, slots=True)
class Assignment:
    """What one location's agents are sent, built once per change of the monitors: at
    thousands of monitors, building it for every push would hold up the event loop."""

    generation: int
    monitors: dict[str, Monitor]
    version: str
    rate: float
    """Results per second its monitors make (a push may bring twice that, sustained)."""
    body: bytes
    gzipped: bytes


def _build(location: str, monitors: list[Monitor], generation: int) -> Assignment:
    """The assignment of ``location`` (blocking: JSON and gzip of every monitor's entry)."""
    mine = sorted((m for m in monitors if location in m.locations and not m.paused),
                  key=lambda m: m.name)  # fmt: skip
    entries = [entry(m) for m in mine]
    version = _version(entries)
    document = {
        "protocol": PROTOCOL,
        "location": location,
        "version": version,
        "push_every": PUSH_EVERY,
        "monitors": entries,
    }
    body = json.dumps(document, default=str, separators=(",", ":")).encode()
    return Assignment(
        generation=generation,
        monitors={m.name: m for m in mine},
        version=version,
        rate=sum(1.0 / m.interval for m in mine),
        body=body,
        gzipped=gzip.compress(body, 6),
    )


@dataclass
class _Assignments:
    built: dict[str, Assignment] = field(default_factory=dict)
    building: dict[str, asyncio.Lock] = field(default_factory=dict)


async def current(request: Request, location: str) -> Assignment:
    """The assignment of ``location`` for the monitors watched now."""
    web = web_of(request)
    state = request.app.state
    cache: _Assignments | None = getattr(state, "agent_assignments", None)
    if cache is None:
        cache = state.agent_assignments = _Assignments()
    generation = web.engine.generation
    found = cache.built.get(location)
    if found is not None and found.generation == generation:
        return found
    lock = cache.building.setdefault(location, asyncio.Lock())
    async with lock:
        found = cache.built.get(location)
        if found is None or found.generation != generation:
            monitors = list(web.engine.monitors.values())  # a snapshot, on the loop
            found = await web.run(_build, location, monitors, generation)
            if len(cache.built) > 1000:  # locations come from tokens: bounded anyway
                cache.built.clear()
            cache.built[location] = found
    return found


def _limits(request: Request) -> _Limits:
    state = request.app.state
    found = getattr(state, "agent_limits", None)
    if found is None:
        found = state.agent_limits = _Limits()
    return found


def entry(monitor: Monitor) -> dict[str, Any]:
    """What an agent is sent of one monitor: its kind's settings and expectations as the
    config has them (secrets substituted), its timings as the server resolved them."""
    spec = monitor.spec or {}
    sent = {key: spec[key] for key in _SENT if key in spec}
    sent[monitor.kind] = spec.get(monitor.kind)
    sent.update(
        name=monitor.name,
        interval=_duration(monitor.interval),
        timeout=_duration(monitor.timeout),
        retry_interval=_duration(monitor.retry_interval),
        confirm=monitor.confirm,
        recover=monitor.recover,
        locations=list(monitor.locations),
        quorum=monitor.quorum,
    )
    return sent


def _duration(seconds: float) -> str:
    return f"{seconds:.6g}s"


def _version(entries: list[dict[str, Any]]) -> str:
    text = json.dumps(entries, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _protocol(request: Request) -> None:
    sent = request.headers.get("x-watchkeeper-protocol")
    if sent is not None and sent != str(PROTOCOL):
        raise HTTPException(
            409,
            f"this node speaks agent protocol {PROTOCOL}, the agent {sent[:20]}: "
            "run the same Watchkeeper version on both",
        )


def _agent_name(request: Request) -> str:
    name = request.headers.get("x-watchkeeper-agent", "agent")[:100]
    return "".join(c for c in name if c.isprintable()) or "agent"


@router.get("/agent/assignment", responses={409: _REFUSALS[409]})
async def assignment(request: Request, who: AgentToken) -> Response:
    """The monitors of this agent's location, as monitors: entries (secrets substituted);
    gzip-compressed when the agent accepts it. The node's clock is in the
    ``X-Watchkeeper-Server-Time`` header."""
    _protocol(request)
    built = await current(request, str(who.agent_location))
    headers = {"X-Watchkeeper-Server-Time": f"{time.time():.6f}", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(built.gzipped, media_type="application/json", headers=headers)
    return Response(built.body, media_type="application/json", headers=headers)


async def _body(request: Request) -> bytes:
    """The request's body, at most MAX_BODY bytes read and (gzip) MAX_BODY decoded."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, f"a push is at most {MAX_BODY // (1024 * 1024)} MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, f"a push is at most {MAX_BODY // (1024 * 1024)} MiB")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflate.decompress(body, MAX_BODY + 1)
        except zlib.error:
            raise HTTPException(400, "the body is not valid gzip") from None
        if len(body) > MAX_BODY or inflate.unconsumed_tail:
            raise HTTPException(413, f"a push is at most {MAX_BODY // (1024 * 1024)} MiB")
    elif encoding != "identity":
        raise HTTPException(415, "send the body plain or gzip")
    return body


@router.post("/agent/results", responses=_REFUSALS)
async def push(request: Request, who: AgentToken) -> JSONResponse:
    """An agent's batch of results (and its health): stored and judged with the other
    locations'."""
    _protocol(request)
    web = web_of(request)
    location = str(who.agent_location)
    body = await _body(request)
    try:
        data = json.loads(body) if len(body) < 65536 else await web.run(json.loads, body)
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "a push is a JSON object")
    if data.get("protocol", PROTOCOL) != PROTOCOL:
        raise HTTPException(409, f"this node speaks agent protocol {PROTOCOL}")
    items = data.get("results") or []
    if not isinstance(items, list) or len(items) > MAX_RESULTS:
        raise HTTPException(413 if isinstance(items, list) else 400, "too many results")
    sent_at = data.get("sent_at")
    now = time.time()
    offset = (
        now - float(sent_at)
        if isinstance(sent_at, int | float) and not isinstance(sent_at, bool)
        else 0.0
    )
    built = await current(request, location)
    monitors = built.monitors
    if items:
        rate = max(10.0, 2.0 * built.rate)
        wait = _limits(request).take(location, len(items), rate, rate * 600 + MAX_RESULTS, now)
        if wait > 0:
            return JSONResponse(
                {"detail": f"too many results from {location}: retry in {wait:.0f} s"},
                status_code=429,
                headers={"Retry-After": str(max(1, round(wait)))},
            )
    results: list[Result] = []
    refused: list[dict[str, str]] = []
    for item in items:
        name = item.get("monitor") if isinstance(item, dict) else None
        monitor = monitors.get(name) if isinstance(name, str) else None
        if monitor is None:
            refused.append({"monitor": str(name)[:200], "reason": f"not checked from {location}"})
            continue
        try:
            result = decode(item, monitor.kind, location, offset)
        except WireError as exc:
            refused.append({"monitor": monitor.name, "reason": str(exc)})
            continue
        if result.started_at > now + 1.0:  # a clock jump in the agent: not in the future
            result.started_at = now
        results.append(result)
    accepted = web.engine.take_remote(results) if results else 0
    reported = data.get("agent")
    agent: dict[str, Any] = reported if isinstance(reported, dict) else {}
    counts = {
        key: int(value)
        for key in db.COUNTS
        if isinstance(value := agent.get(key), int) and not isinstance(value, bool)
    }
    started = agent.get("started_at")
    version = agent.get("version")
    client = request.client
    sharing = web.engine.sharing
    await web.run(
        web.engine.store.agent_heard,
        location=location,
        name=_agent_name(request),
        token_id=None,
        now=now,
        version=str(version)[:40] if isinstance(version, str) else None,
        address=client.host if client else None,
        node=sharing.node.id if sharing is not None else None,
        started_at=float(started) if isinstance(started, int | float) else None,
        clock_offset=offset,
        lag_p99=lag if isinstance(lag := agent.get("lag_p99_s"), int | float) else None,
        counts=counts,
        refused=len(refused),
    )
    return JSONResponse(
        {
            "accepted": accepted,
            "refused": refused[:100],
            "server_time": now,
            "version": built.version,
        }
    )


@router.get("/nodes")
async def list_nodes(request: Request, _: Reader) -> dict[str, Any]:
    """The nodes sharing this store (leases, leader, last beat, lag) and the agents, as
    ``wk nodes --json`` prints them."""
    web = web_of(request)
    seen = await web.run(overview, web.engine.store, web.config.cluster.ttl)
    return seen.as_json(time.time(), web.config.agents.silent_after)


@router.get("/agents")
async def list_agents(request: Request, _: Reader) -> dict[str, Any]:
    """Every agent the nodes heard from, and each location's availability."""
    web = web_of(request)
    found = await web.run(web.engine.store.agents)
    now = time.time()
    rows = [agent_json(agent, now, web.config.agents.silent_after) for agent in found]
    return {"agents": rows, "locations": locations_view(web.engine.monitors.values(), rows)}


def locations_json(web: Web, monitor: Monitor, now: float) -> list[dict[str, Any]]:
    """Each location's newest check of a monitor checked from several."""
    seen = {s.location: s for s in web.engine.quorum.seen(monitor, now)}
    out: list[dict[str, Any]] = []
    for location in monitor.locations:
        item = seen.get(location)
        if item is None:
            out.append({"location": location, "available": False, "last": None})
            continue
        result = item.result
        out.append(
            {
                "location": location,
                "available": item.available,
                "ok": result.ok,
                "health": str(result.health),
                "at": result.started_at,
                "latency_ms": None if result.latency is None else round(result.latency * 1e3, 3),
                "reason": result.reason,
            }
        )
    return out
