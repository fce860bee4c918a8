"""One request of an SDK, HTTP aside: authenticate, decode, parse, limit, deduplicate, and
hand the events on. What to answer comes back as an ``Answer``.

    key (header, query) ─► body (size cap) ─► decompress (cap) ─► envelope / store JSON
      ─► key (envelope dsn) ─► per item: size, rate limit, duplicate? ─► queued / counted

What each envelope item becomes (the outcomes are counted per project and hour):

    event          stored: grouped into an issue, counted, the newest kept (``errortrack``)
    transaction    counted (accepted or rate_limited), not stored
    session(s)     counted, and their release's health (sessions, crashed, errored)
    attachment     counted, not stored
    client_report  what the SDK discarded, counted as client_discarded
    anything else  counted as ignored

Answers: 200 ``{"id": "<event id>"}`` (``{}`` without an event), also for a duplicate (it is
dropped); 400 malformed, with one reason; 401 no key; 403 a wrong key, an unknown project or a
browser origin the project does not allow; 413 past a size limit (``limits``); 429 when every
item was rate limited; 503 while the tracker's queue is full (the store is behind).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watchkeeper.errortrack import decode, envelope, keys
from watchkeeper.errortrack.batches import Received
from watchkeeper.errortrack.envelope import EnvelopeError
from watchkeeper.errortrack.limits import (
    EVENT_CATEGORIES,
    Refusal,
    rate_limit_headers,
    retry_seconds,
)

if TYPE_CHECKING:
    from watchkeeper.errortrack.projects import Project
    from watchkeeper.errortrack.service import ErrorTracker

ENVELOPE = "envelope"
STORE = "store"
MAX_CLIENT_REPORT_ENTRIES = 100
CATEGORIES = {
    "transaction": "transaction",
    "session": "session",
    "sessions": "session",
    "attachment": "attachment",
}
"""Envelope item types counted against a project's second bucket, and their category."""

BodyReader = Callable[[int], Awaitable[bytes | None]]
"""Reads the whole body if it is at most that many bytes; None if it is longer."""


@dataclass(slots=True)
class Request:
    """What the tracker needs of an HTTP request (headers by lower-case name)."""

    project_id: int
    endpoint: str
    """``envelope`` or ``store``."""
    auth: str | None = None
    """``X-Sentry-Auth``, else ``Authorization``."""
    query: str = ""
    encoding: str = ""
    length: int | None = None
    """Content-Length, when sent."""
    origin: str | None = None
    client: str | None = None


@dataclass(slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def payload(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode()


def refuse(status: int, reason: str, headers: list[tuple[bytes, bytes]] | None = None) -> Answer:
    """An error answer as Sentry gives one: ``{"detail"}`` and ``X-Sentry-Error``."""
    return Answer(
        status,
        {"detail": reason},
        [(b"x-sentry-error", reason.encode("ascii", "replace")), *(headers or [])],
    )


async def take(tracker: ErrorTracker, request: Request, read_body: BodyReader) -> Answer:
    """Handle one request of an SDK (see the module)."""
    limits = tracker.limits
    project = await tracker.project(request.project_id)
    if project is None:
        return refuse(403, f"no project {request.project_id} here")
    if request.origin is not None and not project.settings.allows_origin(request.origin):
        return refuse(403, "this origin may not send events to this project")
    key = keys.from_auth_header(request.auth) if request.auth else None
    key = key or keys.from_query(request.query)
    if key is not None and not keys.same_key(key, project.key):
        return refuse(403, "wrong key for this project")
    if request.length is not None and request.length > limits.body:
        return refuse(413, f"the body is larger than {envelope.describe_size(limits.body)}")
    raw = await read_body(limits.body)
    if raw is None:
        return refuse(413, f"the body is larger than {envelope.describe_size(limits.body)}")
    tracker.counts["requests"] += 1
    try:
        if request.endpoint == STORE:
            if key is None:
                return refuse(401, "no sentry_key: send X-Sentry-Auth or ?sentry_key=")
            data = decode.legacy_store_body(
                decode.decompress(raw, request.encoding, limits.envelope), limits.event
            )
            if len(data) > limits.event:
                return refuse(413, f"event larger than {envelope.describe_size(limits.event)}")
            items: tuple[envelope.Item, ...] = (envelope.Item(envelope.EVENT, {}, data),)
            header: dict[str, Any] = {}
        else:
            parsed = envelope.parse(
                decode.decompress(raw, request.encoding, limits.envelope), limits
            )
            header, items = parsed.headers, parsed.items
            if key is None:
                key, project_in_dsn = keys.from_dsn(header.get("dsn"))
                if key is None:
                    return refuse(401, "no sentry_key: send X-Sentry-Auth, ?sentry_key= or a dsn")
                if not keys.same_key(key, project.key) or (
                    project_in_dsn is not None and project_in_dsn != str(project.id)
                ):
                    return refuse(403, "wrong key for this project")
        return _items(tracker, project, request, header, items)
    except EnvelopeError as exc:
        tracker.counts["refused"] += 1
        tracker.count_outcome(project.id, "error", "too_large" if exc.status == 413 else "invalid")
        return refuse(exc.status, exc.reason)


def _items(
    tracker: ErrorTracker,
    project: Project,
    request: Request,
    header: dict[str, Any],
    items: tuple[envelope.Item, ...],
) -> Answer:
    project_id = project.id
    now = time.time()
    rate = project.settings.rate_limit
    refused: dict[str, float] = {}
    accepted = 0
    limited = 0
    event_id = _event_id(header.get("event_id"))
    events: list[Received] = []
    for item in items:
        kind = item.type
        if kind == envelope.EVENT:
            payload = envelope.loads(item.payload, "the event")
            if not isinstance(payload, dict):
                raise EnvelopeError(400, "the event is not a JSON object")
            found = _event_id(payload.get("event_id")) or event_id or uuid.uuid4().hex
            event_id = event_id or found
            if tracker.is_duplicate(project_id, found) or any(e.event_id == found for e in events):
                tracker.count_outcome(project_id, "error", "duplicate")
                continue
            wait = tracker.rates.take_event(project_id, rate.count, rate.per_second)
            if wait > 0:
                limited += 1
                tracker.counts["events_rate_limited"] += 1
                refused["event"] = max(refused.get("event", 0.0), wait)
                tracker.count_outcome(project_id, "error", "rate_limited")
                continue
            accepted += 1
            events.append(
                Received(project_id, found, payload, now, request.client, len(item.payload))
            )
        elif kind in CATEGORIES:
            category = CATEGORIES[kind]
            wait = tracker.rates.take_other(project_id, rate.count, rate.per_second)
            if wait > 0:
                limited += 1
                refused[category] = max(refused.get(category, 0.0), wait)
                tracker.count_outcome(project_id, category, "rate_limited")
                continue
            accepted += 1
            if kind in ("session", "sessions"):
                tracker.count_sessions(
                    project_id, envelope.loads(item.payload, f"a {kind} item"), now
                )
            tracker.count_outcome(project_id, category, "accepted")
        elif kind == "client_report":
            _client_report(tracker, project_id, envelope.loads(item.payload, "a client report"))
        else:
            tracker.count_outcome(project_id, kind[:40], "ignored")
    if events and not tracker.offer(events):
        return refuse(
            503, "the error tracker is behind: try again shortly", [(b"retry-after", b"10")]
        )
    limits = [
        Refusal(EVENT_CATEGORIES if name == "event" else (name,), retry_seconds(wait))
        for name, wait in refused.items()
    ]
    headers = rate_limit_headers(limits)
    if limited and not accepted:
        tracker.counts["rate_limited"] += 1
        return refuse(429, "rate limited: see Retry-After and X-Sentry-Rate-Limits", headers)
    return Answer(200, {"id": event_id} if event_id else {}, headers)


def _client_report(tracker: ErrorTracker, project_id: int, report: object) -> None:
    if not isinstance(report, dict):
        return
    for name in ("discarded_events", "rate_limited_events", "filtered_events"):
        entries = report.get(name)
        if not isinstance(entries, list):
            continue
        for entry in entries[:MAX_CLIENT_REPORT_ENTRIES]:
            if not isinstance(entry, dict):
                continue
            category = entry.get("category")
            quantity = entry.get("quantity")
            if isinstance(category, str) and isinstance(quantity, int) and quantity > 0:
                tracker.count_outcome(
                    project_id, category[:40], "client_discarded", min(quantity, 1_000_000)
                )


def _event_id(value: object) -> str | None:
    """An event id as 32 lower-case hex digits (a UUID's dashes dropped); None if it is not
    one."""
    if not isinstance(value, str) or len(value) > 36:
        return None
    found = value.replace("-", "").lower()
    if len(found) != 32 or any(c not in "0123456789abcdef" for c in found):
        return None
    return found
