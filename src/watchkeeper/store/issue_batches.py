"""What the error tracker's batches add to the store, in the caller's transaction.

The tracker groups a batch of events by issue (``GroupWrite``: counts, times, users, tags,
minute counts and the newest events of one fingerprint) and ``write_batch`` adds it all: new
issues are made, existing ones updated (on PostgreSQL their rows are locked first, so two
nodes never lose each other's counts), a resolved issue that the tracker's ``reopens`` rule
says regressed is reopened. Bounded by design:

- each issue keeps its newest ``KEEP_EVENTS`` events (trimmed as they are written);
- each issue counts at most ``issues.MAX_USERS`` distinct users, and keeps at most
  ``issue_counts.MAX_TAG_VALUES`` values of each tag.

Reading them back, status changes and retention: ``store.issues``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import issue_counts, schema
from watchkeeper.store.ingest import dialect_insert
from watchkeeper.store.issues import Issue, MinuteCount, issues_by_id

_I = schema.error_issues
_E = schema.error_events
_U = schema.error_issue_users
_T = schema.error_issue_tags
_M = schema.error_minutes
_R = schema.error_releases
_O = schema.error_outcomes

KEEP_EVENTS = 100
"""Events kept per issue (the newest)."""
TRIM_EVERY = 50
"""Events an issue may gain past ``KEEP_EVENTS`` before they are trimmed."""
_CHUNK = 500


# -- what a batch writes -----------------------------------------------------------------------
@dataclass(slots=True)
class StoredEvent:
    """One event as it is kept: its trimmed JSON and the columns it is found by."""

    event_id: str
    received_at: float
    ts: float
    level: str
    release: str | None
    environment: str | None
    user_hash: str | None
    body: str


@dataclass(slots=True)
class GroupWrite:
    """What one batch adds to one issue (one project and fingerprint)."""

    project_id: int
    fingerprint: str
    title: str
    culprit: str | None
    type: str | None
    level: str
    platform: str | None
    first_seen: float
    last_seen: float
    count: int = 0
    first_release: str | None = None
    last_release: str | None = None
    releases: dict[str | None, float] = field(default_factory=dict)
    """Each release its events came with (None: none) → the latest receipt of one."""
    users: set[str] = field(default_factory=set)
    tags: Counter[tuple[str, str]] = field(default_factory=Counter)
    minutes: Counter[int] = field(default_factory=Counter)
    """Events per minute (epoch seconds // 60)."""
    events: list[StoredEvent] = field(default_factory=list)
    """The newest events of the batch (at most ``KEEP_EVENTS``), to keep."""


@dataclass(slots=True)
class ReleaseWrite:
    """What one batch adds to one release of a project."""

    project_id: int
    version: str
    first_seen: float
    last_seen: float
    events: int = 0
    sessions: int = 0
    crashed: int = 0
    errored: int = 0
    abnormal: int = 0


OutcomeKey = tuple[int, int, str, str]
"""(project id, hour, category, outcome)"""


@dataclass(frozen=True, slots=True)
class Written:
    """What a batch did: issues made, issues reopened, and the minute counts it added to
    (the minutes' totals after the batch)."""

    created: list[Issue]
    regressed: list[Issue]
    minutes: list[MinuteCount]
    events_stored: int


@dataclass(frozen=True, slots=True)
class ResolvedIssue:
    """A resolved issue's resolution, as the ``reopens`` rule reads it."""

    resolution: str | None
    release: str | None
    at: float


Reopens = Callable[[ResolvedIssue, Mapping[str | None, float], Mapping[str, float]], bool]
"""(the resolution, each release of the new events → its latest receipt, first-seen time of
the project's releases) → is this a regression?"""


# -- writing -----------------------------------------------------------------------------------
def write_batch(
    connection: sa.Connection,
    groups: Sequence[GroupWrite],
    releases: Sequence[ReleaseWrite],
    outcomes: Mapping[OutcomeKey, int],
    now: float,
    reopens: Reopens,
) -> Written:
    """Add a batch (see the module); returns what changed."""
    issue_counts.releases(connection, releases)
    issue_counts.outcomes(connection, outcomes)
    if not groups:
        return Written([], [], [], 0)
    rows = _existing(connection, groups)
    created_ids: set[int] = set()
    missing = [g for g in groups if (g.project_id, g.fingerprint) not in rows]
    for group in missing:
        made = _create(connection, group, now)
        if made is not None:
            created_ids.add(made)
    if missing:  # those made here, and those another node made meanwhile
        rows = _existing(connection, groups)
    first_seen = _release_times(connection, groups, rows)
    updates: list[dict[str, Any]] = []
    regressed_ids: set[int] = set()
    for group in groups:
        row = rows[(group.project_id, group.fingerprint)]
        regression = (
            row["status"] == "resolved"
            and row["id"] not in created_ids
            and reopens(
                ResolvedIssue(
                    row["resolution"], row["resolution_release"], float(row["resolved_at"] or 0.0)
                ),
                group.releases,
                first_seen.get(group.project_id, {}),
            )
        )
        if regression:
            regressed_ids.add(int(row["id"]))
        updates.append(_issue_update(row, group, now, regression, int(row["id"]) in created_ids))
    users = issue_counts.users(connection, groups, rows)
    for update in updates:
        update["b_users"] += users.get(update["b_id"], 0)
    connection.execute(
        sa.update(_I)
        .where(_I.c.id == sa.bindparam("b_id"))
        .values({column: sa.bindparam(f"b_{column}") for column in _UPDATED}),
        [{key: value for key, value in u.items() if key.startswith("b_")} for u in updates],
    )
    issue_counts.tags(connection, groups, rows)
    minutes = issue_counts.minutes(connection, groups, rows)
    stored = _write_events(connection, groups, rows)
    _trim(connection, [u for u in updates if _needs_trim(u)])
    touched = created_ids | regressed_ids
    found = {issue.id: issue for issue in issues_by_id(connection, touched)} if touched else {}
    return Written(
        created=[found[i] for i in sorted(created_ids) if i in found],
        regressed=[found[i] for i in sorted(regressed_ids) if i in found],
        minutes=minutes,
        events_stored=stored,
    )


def _existing(
    connection: sa.Connection, groups: Sequence[GroupWrite]
) -> dict[tuple[int, str], Any]:
    """The issue rows of the batch's fingerprints (locked on PostgreSQL)."""
    wanted: dict[int, list[str]] = {}
    for group in groups:
        wanted.setdefault(group.project_id, []).append(group.fingerprint)
    found: dict[tuple[int, str], Any] = {}
    for project_id, prints in wanted.items():
        for start in range(0, len(prints), _CHUNK):
            query = (
                sa.select(_I)
                .where(
                    _I.c.project_id == project_id,
                    _I.c.fingerprint.in_(prints[start : start + _CHUNK]),
                )
                .order_by(_I.c.id)
                .with_for_update()
            )
            for row in connection.execute(query).mappings():
                found[(project_id, row["fingerprint"])] = dict(row)
    return found


def _create(connection: sa.Connection, group: GroupWrite, now: float) -> int | None:
    """Make the issue; its id, or None when another node made it first."""
    statement = dialect_insert(connection, _I).values(
        project_id=group.project_id,
        fingerprint=group.fingerprint,
        title=group.title,
        culprit=group.culprit,
        type=group.type,
        level=group.level,
        platform=group.platform,
        status="unresolved",
        first_seen=group.first_seen,
        last_seen=group.first_seen,
        count=0,
        users=0,
        times_regressed=0,
        first_release=group.first_release,
        last_release=None,
    )
    statement = statement.on_conflict_do_nothing(index_elements=["project_id", "fingerprint"])
    made = connection.execute(statement.returning(_I.c.id)).first()
    return None if made is None else int(made[0])


_UPDATED = (
    "count",
    "users",
    "first_seen",
    "last_seen",
    "title",
    "culprit",
    "type",
    "level",
    "platform",
    "first_release",
    "last_release",
    "status",
    "resolution",
    "resolution_release",
    "resolved_at",
    "regressed_at",
    "times_regressed",
    "status_changed_at",
    "status_by",
)
"""The columns a batch sets on an issue (to what it read, locked, plus the batch)."""


def _issue_update(
    row: Any, group: GroupWrite, now: float, regression: bool, created: bool
) -> dict[str, Any]:
    newer = group.last_seen >= float(row["last_seen"]) or created
    update: dict[str, Any] = {
        "b_id": int(row["id"]),
        "b_count": int(row["count"]) + group.count,
        "b_users": int(row["users"]),
        "b_first_seen": min(float(row["first_seen"]), group.first_seen),
        "b_last_seen": max(float(row["last_seen"]), group.last_seen),
        "b_title": group.title if newer else row["title"],
        "b_culprit": group.culprit if newer else row["culprit"],
        "b_type": group.type if newer else row["type"],
        "b_level": group.level if newer else row["level"],
        "b_platform": group.platform if newer else row["platform"],
        "b_first_release": row["first_release"] or group.first_release,
        "b_last_release": (group.last_release if newer else None) or row["last_release"],
        "b_status": row["status"],
        "b_resolution": row["resolution"],
        "b_resolution_release": row["resolution_release"],
        "b_resolved_at": row["resolved_at"],
        "b_regressed_at": row["regressed_at"],
        "b_times_regressed": int(row["times_regressed"]),
        "b_status_changed_at": row["status_changed_at"],
        "b_status_by": row["status_by"],
    }
    if regression:
        update.update(
            b_status="unresolved",
            b_resolution=None,
            b_resolution_release=None,
            b_resolved_at=None,
            b_regressed_at=now,
            b_times_regressed=int(row["times_regressed"]) + 1,
            b_status_changed_at=now,
            b_status_by="regression",
        )
    update["_before"] = int(row["count"])
    return update


def _needs_trim(update: Mapping[str, Any]) -> bool:
    after = int(update["b_count"])
    return after > KEEP_EVENTS and (
        int(update["_before"]) <= KEEP_EVENTS
        or int(update["_before"]) // TRIM_EVERY != after // TRIM_EVERY
    )


def _release_times(
    connection: sa.Connection, groups: Sequence[GroupWrite], rows: Mapping[tuple[int, str], Any]
) -> dict[int, dict[str, float]]:
    """First-seen times of the releases a resolved issue's regression depends on."""
    wanted: dict[int, set[str]] = {}
    for group in groups:
        row = rows[(group.project_id, group.fingerprint)]
        if row["status"] != "resolved":
            continue
        names = wanted.setdefault(group.project_id, set())
        names.update(release for release in group.releases if release is not None)
        if row["resolution_release"]:
            names.add(row["resolution_release"])
    found: dict[int, dict[str, float]] = {}
    for project_id, names in wanted.items():
        listed = sorted(names)
        times = found.setdefault(project_id, {})
        for start in range(0, len(listed), _CHUNK):
            query = sa.select(_R.c.version, _R.c.first_seen).where(
                _R.c.project_id == project_id, _R.c.version.in_(listed[start : start + _CHUNK])
            )
            times.update({str(r.version): float(r.first_seen) for r in connection.execute(query)})
    return found


def _write_events(
    connection: sa.Connection, groups: Sequence[GroupWrite], rows: Mapping[tuple[int, str], Any]
) -> int:
    items = [
        {
            "issue_id": int(rows[(group.project_id, group.fingerprint)]["id"]),
            "project_id": group.project_id,
            "event_id": event.event_id,
            "received_at": event.received_at,
            "ts": event.ts,
            "level": event.level,
            "release": event.release,
            "environment": event.environment,
            "user_hash": event.user_hash,
            "body": event.body,
        }
        for group in groups
        for event in group.events
    ]
    if not items:
        return 0
    statement = dialect_insert(connection, _E).on_conflict_do_nothing(
        index_elements=["project_id", "event_id"]
    )
    connection.execute(statement, items)
    return len(items)


def _trim(connection: sa.Connection, updates: Sequence[Mapping[str, Any]]) -> None:
    for update in updates:
        issue_id = update["b_id"]
        boundary = connection.execute(
            sa.select(_E.c.received_at, _E.c.id)
            .where(_E.c.issue_id == issue_id)
            .order_by(_E.c.received_at.desc(), _E.c.id.desc())
            .offset(KEEP_EVENTS)
            .limit(1)
        ).first()
        if boundary is None:
            continue
        older = sa.or_(
            _E.c.received_at < boundary.received_at,
            sa.and_(_E.c.received_at == boundary.received_at, _E.c.id <= boundary.id),
        )
        connection.execute(sa.delete(_E).where(_E.c.issue_id == issue_id, older))


def known_event_ids(
    connection: sa.Connection, project_id: int, event_ids: Iterable[str]
) -> set[str]:
    """Those of ``event_ids`` stored for the project already."""
    wanted = list(set(event_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        query = sa.select(_E.c.event_id).where(
            _E.c.project_id == project_id, _E.c.event_id.in_(wanted[start : start + _CHUNK])
        )
        found.update(str(value) for value in connection.scalars(query))
    return found
