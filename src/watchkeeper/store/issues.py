"""Issues and their events as the store keeps them: reading them, changing an issue's
status, and retention. What batches of events add: ``store.issue_batches``.

Every function takes the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import schema

_I = schema.error_issues
_E = schema.error_events
_U = schema.error_issue_users
_T = schema.error_issue_tags
_M = schema.error_minutes
_R = schema.error_releases
_O = schema.error_outcomes
_P = schema.error_projects

MAX_USERS = 10_000
"""Distinct users counted per issue; past this the count stays (shown as at least)."""
STATUSES = ("unresolved", "resolved", "ignored")
MAX_EVENTS_SHOWN = 100
"""Events one read returns at most (an issue keeps about that many)."""
PRUNE_BATCH = 20_000
"""Rows of each kind one ``prune`` deletes at most."""
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Issue:
    id: int
    project_id: int
    project: str
    fingerprint: str
    title: str
    culprit: str | None
    type: str | None
    level: str
    platform: str | None
    status: str
    first_seen: float
    last_seen: float
    count: int
    users: int
    first_release: str | None
    last_release: str | None
    resolution: str | None
    """``now`` or ``in_release`` while resolved."""
    resolution_release: str | None
    resolved_at: float | None
    regressed_at: float | None
    times_regressed: int
    status_changed_at: float | None
    status_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "project_id": self.project_id,
            "title": self.title,
            "culprit": self.culprit,
            "type": self.type,
            "level": self.level,
            "platform": self.platform,
            "status": self.status,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "count": self.count,
            "users": self.users,
            "users_capped": self.users >= MAX_USERS,
            "first_release": self.first_release,
            "last_release": self.last_release,
            "resolved_in_release": (
                self.resolution_release if self.resolution == "in_release" else None
            ),
            "resolved_at": self.resolved_at,
            "regressed_at": self.regressed_at,
            "times_regressed": self.times_regressed,
            "status_changed_at": self.status_changed_at,
            "status_by": self.status_by,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True, slots=True)
class MinuteCount:
    """Events of one issue in one minute (``minute``: the epoch second it starts at)."""

    issue_id: int
    project_id: int
    minute: int
    count: int


# -- status ------------------------------------------------------------------------------------
def set_status(
    connection: sa.Connection,
    issue_id: int,
    status: str,
    now: float,
    *,
    in_release: str | None = None,
    by: str | None = None,
) -> Issue | None:
    """Resolve (plain, or ``in_release``), ignore or unresolve an issue; None if it does not
    exist. A plain resolve remembers the newest release the issue was seen in."""
    if status not in STATUSES:
        raise ValueError(f"unknown status '{status}'")
    row = connection.execute(sa.select(_I).where(_I.c.id == issue_id).with_for_update()).first()
    if row is None:
        return None
    values: dict[str, Any] = {"status": status, "status_changed_at": now, "status_by": by}
    if status == "resolved":
        values.update(
            resolved_at=now,
            resolution="in_release" if in_release else "now",
            resolution_release=in_release or row.last_release,
        )
    else:
        values.update(resolved_at=None, resolution=None, resolution_release=None)
    connection.execute(sa.update(_I).where(_I.c.id == issue_id).values(**values))
    return issue(connection, issue_id)


# -- reading -----------------------------------------------------------------------------------
def _issue_query() -> sa.Select[Any]:
    return sa.select(_I, _P.c.name.label("project_name")).join(_P, _P.c.id == _I.c.project_id)


def _issue(row: Any) -> Issue:
    return Issue(
        id=int(row.id),
        project_id=int(row.project_id),
        project=str(row.project_name),
        fingerprint=str(row.fingerprint),
        title=str(row.title),
        culprit=row.culprit,
        type=row.type,
        level=str(row.level),
        platform=row.platform,
        status=str(row.status),
        first_seen=float(row.first_seen),
        last_seen=float(row.last_seen),
        count=int(row._mapping["count"]),
        users=int(row.users),
        first_release=row.first_release,
        last_release=row.last_release,
        resolution=row.resolution,
        resolution_release=row.resolution_release,
        resolved_at=row.resolved_at,
        regressed_at=row.regressed_at,
        times_regressed=int(row.times_regressed),
        status_changed_at=row.status_changed_at,
        status_by=row.status_by,
    )


def issue(connection: sa.Connection, issue_id: int) -> Issue | None:
    row = connection.execute(_issue_query().where(_I.c.id == issue_id)).first()
    return None if row is None else _issue(row)


def issues_by_id(connection: sa.Connection, ids: Iterable[int]) -> list[Issue]:
    wanted = sorted(ids)
    found: list[Issue] = []
    for start in range(0, len(wanted), _CHUNK):
        query = _issue_query().where(_I.c.id.in_(wanted[start : start + _CHUNK]))
        found += [_issue(row) for row in connection.execute(query)]
    return found


SORTS = {
    "last_seen": (_I.c.last_seen.desc(), _I.c.id.desc()),
    "first_seen": (_I.c.first_seen.desc(), _I.c.id.desc()),
    "count": (_I.c.count.desc(), _I.c.id.desc()),
    "users": (_I.c.users.desc(), _I.c.id.desc()),
}


def issues(
    connection: sa.Connection,
    *,
    project_id: int | None = None,
    status: str | None = None,
    query: str | None = None,
    sort: str = "last_seen",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Issue], int]:
    """Issues (of a project, with a status, whose title or culprit holds ``query``), sorted
    by ``SORTS``, and how many match in all."""
    conditions: list[Any] = []
    if project_id is not None:
        conditions.append(_I.c.project_id == project_id)
    if status is not None:
        conditions.append(_I.c.status == status)
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            sa.or_(_I.c.title.ilike(pattern, escape="\\"), _I.c.culprit.ilike(pattern, escape="\\"))
        )
    rows = connection.execute(
        _issue_query().where(*conditions).order_by(*SORTS[sort]).limit(limit).offset(offset)
    ).all()
    total = connection.scalar(sa.select(sa.func.count()).select_from(_I).where(*conditions))
    return [_issue(row) for row in rows], int(total or 0)


def events(
    connection: sa.Connection, issue_id: int, limit: int = 20, *, user_hash: bool = False
) -> list[dict[str, Any]]:
    """An issue's newest events (their kept JSON), newest first; with ``user_hash``, each
    also carries the keyed hash its user is counted by (``user_hash``, None without one)."""
    rows = connection.execute(
        sa.select(_E.c.body, _E.c.user_hash)
        .where(_E.c.issue_id == issue_id)
        .order_by(_E.c.received_at.desc(), _E.c.id.desc())
        .limit(limit)
    ).all()
    found = []
    for row in rows:
        try:
            body = json.loads(row.body)
        except ValueError:
            continue
        if user_hash and isinstance(body, dict):
            body["user_hash"] = row.user_hash
        found.append(body)
    return found


def tag_values(
    connection: sa.Connection, issue_id: int, per_key: int = 10
) -> dict[str, list[tuple[str, int]]]:
    """Each tag of an issue with its most common values and their counts."""
    rows = connection.execute(
        sa.select(_T.c.key, _T.c.value, _T.c.count.label("n"))
        .where(_T.c.issue_id == issue_id)
        .order_by(_T.c.key, _T.c.count.desc(), _T.c.value)
    ).all()
    found: dict[str, list[tuple[str, int]]] = {}
    for row in rows:
        values = found.setdefault(str(row.key), [])
        if len(values) < per_key:
            values.append((str(row.value), int(row.n)))
    return found


def minute_counts(
    connection: sa.Connection, issue_ids: Sequence[int] | None, since: float, until: float
) -> list[MinuteCount]:
    """Events per minute in ``[since, until)`` of the issues given (or all), oldest first."""
    query = (
        sa.select(_M.c.issue_id, _I.c.project_id, _M.c.minute, _M.c.count.label("n"))
        .join(_I, _I.c.id == _M.c.issue_id)
        .where(_M.c.minute >= int(since // 60), _M.c.minute < -int(-until // 60))
        .order_by(_M.c.minute, _M.c.issue_id)
    )
    if issue_ids is not None:
        query = query.where(_M.c.issue_id.in_(list(issue_ids)))
    return [
        MinuteCount(int(r.issue_id), int(r.project_id), int(r.minute) * 60, int(r.n))
        for r in connection.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class Release:
    version: str
    first_seen: float
    last_seen: float
    events: int
    sessions: int
    crashed: int
    errored: int
    abnormal: int

    @property
    def crash_free(self) -> float | None:
        """The share of sessions that did not crash; None without sessions."""
        return None if not self.sessions else max(0.0, 1.0 - self.crashed / self.sessions)


def releases(connection: sa.Connection, project_id: int, limit: int = 50) -> list[Release]:
    """A project's releases, the newest first seen first."""
    rows = connection.execute(
        sa.select(_R)
        .where(_R.c.project_id == project_id)
        .order_by(_R.c.first_seen.desc(), _R.c.version)
        .limit(limit)
    ).all()
    return [
        Release(
            str(r.version),
            float(r.first_seen),
            float(r.last_seen),
            int(r.events),
            int(r.sessions),
            int(r.crashed),
            int(r.errored),
            int(r.abnormal),
        )
        for r in rows
    ]


def outcomes(
    connection: sa.Connection, project_id: int, since: float
) -> dict[tuple[str, str], int]:
    """(category, outcome) → quantity of a project since ``since`` (by the hour)."""
    rows = connection.execute(
        sa.select(_O.c.category, _O.c.outcome, sa.func.sum(_O.c.quantity))
        .where(_O.c.project_id == project_id, _O.c.hour >= int(since // 3600))
        .group_by(_O.c.category, _O.c.outcome)
    ).all()
    return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


# -- retention ---------------------------------------------------------------------------------
def prune(
    connection: sa.Connection,
    *,
    events_before: float,
    minutes_before: float,
    issues_before: float,
    outcomes_before: float,
    limit: int = PRUNE_BATCH,
) -> int:
    """Delete events received before ``events_before``, minute counts before
    ``minutes_before``, issues last seen before ``issues_before`` (with their events, users,
    tags and minutes), and outcomes and releases not seen since ``outcomes_before``: at most
    about ``limit`` rows of each per call. Returns rows deleted."""
    deleted = 0
    oldest_events = sa.select(_E.c.id).where(_E.c.received_at < events_before).limit(limit)
    deleted += _count(
        connection.execute(sa.delete(_E).where(_E.c.id.in_(oldest_events.scalar_subquery())))
    )
    deleted += _count(
        connection.execute(sa.delete(_M).where(_M.c.minute < int(minutes_before // 60)))
    )
    gone = list(
        connection.scalars(
            sa.select(_I.c.id).where(_I.c.last_seen < issues_before).limit(min(limit, 1000))
        )
    )
    for start in range(0, len(gone), _CHUNK):
        chunk = gone[start : start + _CHUNK]
        for table in (_E, _U, _T, _M):
            deleted += _count(
                connection.execute(sa.delete(table).where(table.c.issue_id.in_(chunk)))
            )
        deleted += _count(connection.execute(sa.delete(_I).where(_I.c.id.in_(chunk))))
    deleted += _count(
        connection.execute(sa.delete(_O).where(_O.c.hour < int(outcomes_before // 3600)))
    )
    deleted += _count(connection.execute(sa.delete(_R).where(_R.c.last_seen < outcomes_before)))
    return deleted


def _count(result: Any) -> int:
    return max(int(result.rowcount or 0), 0)
