"""A batch of received events made ready for the store: grouped into issues, counted, the
newest of each issue trimmed for keeping. Runs on the tracker's own lane, never the event
loop. Pure but for the clock it is given.

Who an event happened to is kept only as a keyed hash (HMAC-SHA256 with a secret made once
per store, cut to 128 bits): counting distinct users needs no identity, and an IP address
hashed without a key could be recovered by trying all four billion.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.errortrack import grouping, keep, normalize
from watchkeeper.store.issue_batches import GroupWrite, ReleaseWrite, StoredEvent

KEPT_PER_BATCH = 5
"""Events of one issue kept from one batch (the newest): a flood of one bug keeps a sample
across time, not a hundred copies of one fraction of a second (and trimming an event for
keeping costs more than counting it)."""
KEPT_PER_MINUTE = 30
"""Events of one issue kept within one minute, at most: under a sustained flood an issue's
newest events are a sample of the last minutes, every event still counted."""


@dataclass(slots=True)
class Received:
    """An event taken in: its project, id, decoded JSON, when and from where."""

    project_id: int
    event_id: str
    payload: dict[str, Any]
    received_at: float
    client: str | None = None
    size: int = 0


@dataclass(slots=True)
class Prepared:
    groups: list[GroupWrite]
    releases: list[ReleaseWrite]
    events: int
    newest: dict[tuple[int, str], Received] = field(default_factory=dict)


def user_hash(identity: str, salt: bytes) -> str:
    return hmac.new(salt, identity.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


class KeptCounts:
    """Events kept per issue in the current minute (``KEPT_PER_MINUTE``); used by one
    thread (the tracker's lane). Forgets all at each new minute."""

    def __init__(self) -> None:
        self.minute = 0
        self.counts: dict[tuple[int, str], int] = {}

    def room(self, key: tuple[int, str], now: float) -> int:
        minute = int(now // 60)
        if minute != self.minute:
            self.minute, self.counts = minute, {}
        return max(0, KEPT_PER_MINUTE - self.counts.get(key, 0))

    def take(self, key: tuple[int, str], count: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + count


def prepare(batch: list[Received], salt: bytes, kept_counts: KeptCounts | None = None) -> Prepared:
    """Group ``batch`` (oldest first) by project and fingerprint."""
    groups: dict[tuple[int, str], GroupWrite] = {}
    kept: dict[tuple[int, str], deque[Received]] = {}
    releases: dict[tuple[int, str], ReleaseWrite] = {}
    for received in batch:
        payload = received.payload
        at = received.received_at
        key = (received.project_id, grouping.group_hash(payload))
        group = groups.get(key)
        if group is None:
            group = groups[key] = GroupWrite(
                project_id=received.project_id,
                fingerprint=key[1],
                title="",
                culprit=None,
                type=None,
                level="error",
                platform=None,
                first_seen=at,
                last_seen=at,
            )
            kept[key] = deque(maxlen=KEPT_PER_BATCH)
        group.count += 1
        group.first_seen = min(group.first_seen, at)
        group.last_seen = max(group.last_seen, at)
        release = normalize.release(payload)
        group.releases[release] = max(group.releases.get(release, at), at)
        if release is not None:
            if group.first_release is None:
                group.first_release = release
            group.last_release = release
            _count_release(releases, received.project_id, release, at)
        identity = normalize.user_identity(payload, received.client)
        if identity is not None:
            group.users.add(user_hash(identity, salt))
        for pair in normalize.tags(payload):
            group.tags[pair] += 1
        group.minutes[int(at // 60)] += 1
        kept[key].append(received)
    for key, group in groups.items():
        newest = kept[key][-1].payload
        group.title = grouping.title(newest)
        group.culprit = grouping.culprit(newest)
        raised = normalize.exceptions(newest)
        group.type = grouping.exception_type(raised[-1]) if raised else None
        group.level = normalize.level(newest)
        group.platform = normalize.text(newest.get("platform"), 40)
        chosen = list(kept[key])
        if kept_counts is not None:
            room = kept_counts.room(key, group.last_seen)
            chosen = chosen[len(chosen) - room :] if room else []
            kept_counts.take(key, len(chosen))
        group.events = [_stored(received, salt) for received in chosen]
    return Prepared(list(groups.values()), list(releases.values()), len(batch))


def _count_release(
    releases: dict[tuple[int, str], ReleaseWrite], project_id: int, release: str, at: float
) -> None:
    found = releases.get((project_id, release))
    if found is None:
        found = releases[(project_id, release)] = ReleaseWrite(project_id, release, at, at)
    found.events += 1
    found.first_seen = min(found.first_seen, at)
    found.last_seen = max(found.last_seen, at)


def _stored(received: Received, salt: bytes) -> StoredEvent:
    payload = received.payload
    identity = normalize.user_identity(payload, received.client)
    body = keep.trim(
        payload,
        event_id=received.event_id,
        received_at=received.received_at,
        in_app=grouping.is_in_app,
    )
    return StoredEvent(
        event_id=received.event_id,
        received_at=received.received_at,
        ts=float(body["timestamp"]),
        level=str(body["level"]),
        release=body["release"],
        environment=body["environment"],
        user_hash=None if identity is None else user_hash(identity, salt),
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    )


# -- sessions: release health -------------------------------------------------------------------
@dataclass(slots=True)
class Health:
    """Sessions of one release, as counted from ``session`` and ``sessions`` items."""

    sessions: int = 0
    crashed: int = 0
    errored: int = 0
    abnormal: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0


def count_session(
    health: dict[tuple[int, str], Health],
    project_id: int,
    item: Mapping[str, Any],
    at: float,
    most: int,
) -> int:
    """Add what a ``session`` update or a ``sessions`` aggregate says to ``health``; returns
    how many sessions it counted. A session counts once when it starts (``init``) and once
    when it ends badly: crashed, abnormal, or with errors."""
    attributes = normalize.mapping(item.get("attrs"))
    release = normalize.release(attributes)
    if release is None:
        return 0
    found = health.get((project_id, release))
    if found is None:
        found = health[(project_id, release)] = Health(first_seen=at, last_seen=at)
    found.last_seen = at
    aggregates = item.get("aggregates")
    if isinstance(aggregates, list):
        counted = 0
        for aggregate in aggregates[:most]:
            if not isinstance(aggregate, dict):
                continue
            numbers = {
                k: _count(aggregate.get(k)) for k in ("exited", "errored", "abnormal", "crashed")
            }
            total = sum(numbers.values())
            found.sessions += total
            found.crashed += numbers["crashed"]
            found.abnormal += numbers["abnormal"]
            found.errored += numbers["errored"]
            counted += total
        return counted
    status = item.get("status")
    if item.get("init") is True:
        found.sessions += 1
    if status == "crashed":
        found.crashed += 1
    elif status == "abnormal":
        found.abnormal += 1
    elif status in ("exited", "errored") and (
        _count(item.get("errors")) > 0 or status == "errored"
    ):
        found.errored += 1
    return 1


def _count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, min(value, 1_000_000))
    return 0


def health_writes(health: Mapping[tuple[int, str], Health]) -> list[ReleaseWrite]:
    return [
        ReleaseWrite(
            project_id,
            release,
            h.first_seen,
            h.last_seen,
            sessions=h.sessions,
            crashed=h.crashed,
            errored=h.errored,
            abnormal=h.abnormal,
        )
        for (project_id, release), h in health.items()
    ]
