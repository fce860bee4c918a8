"""Alerting's tables: incidents and their timelines, the queue of alert events, the outbox of
notifications, route health and silences.

Every function takes the caller's connection, inside the caller's transaction: the alerting
layer decides, this module only reads and writes. Items and messages are stored as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.model import Transition
from watchkeeper.store import schema
from watchkeeper.store.codec import transition_row
from watchkeeper.store.ingest import dialect_insert


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    monitor: str
    opened_at: float
    closed_at: float | None
    state: str
    worst: str
    reason: str | None
    cause: str | None
    acked_at: float | None
    acked_by: str | None
    notified_at: float | None
    last_notified_at: float | None
    escalated_at: float | None

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def duration(self) -> float | None:
        return None if self.closed_at is None else self.closed_at - self.opened_at

    def to_json(self) -> dict[str, Any]:
        """The form ``wk incidents --json`` and the API share."""
        return {
            "id": self.id,
            "monitor": self.monitor,
            "open": self.open,
            "state": self.state,
            "worst": self.worst,
            "reason": self.reason,
            "cause": self.cause,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "acked_at": self.acked_at,
            "acked_by": self.acked_by,
            "notified_at": self.notified_at,
        }


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    incident_id: int
    at: float
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One route's share of a change, waiting to be grouped into a notification."""

    id: int
    incident_id: int
    monitor: str
    route: str
    event: str
    at: float
    status: str
    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A notification in the outbox."""

    id: int
    route: str
    dedup_key: str
    event: str
    created_at: float
    message: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    delivered_at: float | None


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    monitor: str | None
    tag: str | None
    starts_at: float
    ends_at: float
    reason: str | None
    created_by: str | None
    created_at: float
    expired_at: float | None

    def active(self, now: float) -> bool:
        return self.expired_at is None and self.starts_at <= now < self.ends_at

    def covers(self, monitor: str, tags: Iterable[str]) -> bool:
        if self.monitor is not None and self.monitor != monitor:
            return False
        return self.tag is None or self.tag in tags

    def to_json(self, now: float) -> dict[str, Any]:
        """The form ``wk silence list --json`` and the API share."""
        return {
            "id": self.id,
            "monitor": self.monitor,
            "tag": self.tag,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "reason": self.reason,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "expired_at": self.expired_at,
            "active": self.active(now),
        }


@dataclass(frozen=True, slots=True)
class RouteHealth:
    route: str
    broken_since: float | None
    last_error: str | None
    last_success_at: float | None
    last_failure_at: float | None


_I = schema.incidents
_E = schema.incident_events
_A = schema.alert_events
_N = schema.notifications
_M = schema.monitors


def _incident(row: Any) -> Incident:
    return Incident(
        id=int(row.id),
        monitor=str(row.name),
        opened_at=float(row.opened_at),
        closed_at=None if row.closed_at is None else float(row.closed_at),
        state=str(row.state),
        worst=str(row.worst),
        reason=row.reason,
        cause=row.cause,
        acked_at=row.acked_at,
        acked_by=row.acked_by,
        notified_at=row.notified_at,
        last_notified_at=row.last_notified_at,
        escalated_at=row.escalated_at,
    )


def _incident_query() -> sa.Select[Any]:
    return sa.select(_I, _M.c.name).join(_M, _M.c.id == _I.c.monitor_id)


# -- incidents ----------------------------------------------------------------------------
def open_incident(connection: sa.Connection, monitor_id: int) -> Incident | None:
    row = connection.execute(
        _incident_query()
        .where(_I.c.monitor_id == monitor_id, _I.c.closed_at.is_(None))
        .order_by(_I.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _incident(row)


def open_incidents(connection: sa.Connection, monitor_ids: Iterable[int]) -> dict[int, Incident]:
    """``open_incident`` for many monitors in a few queries: monitor id → its newest open
    incident (monitors without one are left out)."""
    wanted = sorted(set(monitor_ids))
    found: dict[int, Incident] = {}
    for start in range(0, len(wanted), 500):
        rows = connection.execute(
            _incident_query()
            .where(_I.c.monitor_id.in_(wanted[start : start + 500]), _I.c.closed_at.is_(None))
            .order_by(_I.c.id)
        )
        for row in rows:
            found[int(row.monitor_id)] = _incident(row)  # the newest one wins
    return found


def incident(connection: sa.Connection, incident_id: int) -> Incident | None:
    row = connection.execute(_incident_query().where(_I.c.id == incident_id)).first()
    return None if row is None else _incident(row)


def incidents(
    connection: sa.Connection,
    *,
    open_only: bool,
    limit: int,
    monitor: str | None = None,
    offset: int = 0,
    since: float | None = None,
    told_or_lasting: float | None = None,
) -> list[Incident]:
    """Newest first; ``since``: only those open at some time after it; ``told_or_lasting``:
    only closed ones that were notified or lasted at least that many seconds (no blips)."""
    query = _incident_query()
    if open_only:
        query = query.where(_I.c.closed_at.is_(None))
    if told_or_lasting is not None:
        query = query.where(
            _I.c.closed_at.is_not(None),
            sa.or_(
                _I.c.notified_at.is_not(None),
                _I.c.closed_at - _I.c.opened_at >= told_or_lasting,
            ),
        )
    if monitor is not None:
        query = query.where(_M.c.name == monitor)
    if since is not None:
        query = query.where(sa.or_(_I.c.closed_at.is_(None), _I.c.closed_at >= since))
    rows = connection.execute(query.order_by(_I.c.id.desc()).limit(limit).offset(offset))
    return [_incident(row) for row in rows]


def count_incidents(
    connection: sa.Connection, *, open_only: bool, monitor: str | None = None
) -> int:
    query = sa.select(sa.func.count()).select_from(_I.join(_M, _I.c.monitor_id == _M.c.id))
    if open_only:
        query = query.where(_I.c.closed_at.is_(None))
    if monitor is not None:
        query = query.where(_M.c.name == monitor)
    return int(connection.scalar(query) or 0)


def create_incident(
    connection: sa.Connection,
    monitor_id: int,
    at: float,
    state: str,
    reason: str | None,
    cause: str | None,
) -> int:
    result = connection.execute(
        _I.insert().values(
            monitor_id=monitor_id,
            opened_at=at,
            state=state,
            worst=state,
            reason=reason,
            cause=cause,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def update_incident(connection: sa.Connection, incident_id: int, **values: Any) -> None:
    connection.execute(_I.update().where(_I.c.id == incident_id).values(**values))


def add_timeline(connection: sa.Connection, entries: Sequence[TimelineEntry]) -> None:
    if entries:
        connection.execute(
            _E.insert(),
            [
                {"incident_id": e.incident_id, "at": e.at, "kind": e.kind, "text": e.text}
                for e in entries
            ],
        )


def timeline(connection: sa.Connection, incident_id: int) -> list[TimelineEntry]:
    rows = connection.execute(
        sa.select(_E.c.incident_id, _E.c.at, _E.c.kind, _E.c.text)
        .where(_E.c.incident_id == incident_id)
        .order_by(_E.c.at, _E.c.id)
    )
    return [TimelineEntry(int(r[0]), float(r[1]), str(r[2]), str(r[3])) for r in rows]


def record_transition(connection: sa.Connection, transition: Transition, monitor_id: int) -> None:
    """Append the state change and make it the monitor's current state."""
    row = transition_row(transition, monitor_id)
    connection.execute(schema.state_changes.insert(), [row])
    statement = dialect_insert(connection, schema.monitor_state).values(
        monitor_id=monitor_id, state=row["to_state"], since=row["at"], reason=row["reason"]
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["monitor_id"],
            set_={"state": row["to_state"], "since": row["at"], "reason": row["reason"]},
        )
    )


def record_transitions(
    connection: sa.Connection, transitions: Sequence[tuple[Transition, int]]
) -> None:
    """``record_transition`` for many (transition, monitor id) pairs, in order, in two
    statements: the state changes appended, each monitor's last one its current state."""
    if not transitions:
        return
    rows = [transition_row(transition, monitor_id) for transition, monitor_id in transitions]
    connection.execute(schema.state_changes.insert(), rows)
    latest = {
        row["monitor_id"]: {
            "monitor_id": row["monitor_id"],
            "state": row["to_state"],
            "since": row["at"],
            "reason": row["reason"],
        }
        for row in rows
    }
    statement = dialect_insert(connection, schema.monitor_state)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["monitor_id"],
            set_={
                "state": statement.excluded.state,
                "since": statement.excluded.since,
                "reason": statement.excluded.reason,
            },
        ),
        list(latest.values()),
    )


# -- alert events -------------------------------------------------------------------------
def add_alert_event(
    connection: sa.Connection,
    incident_id: int,
    monitor: str,
    route: str,
    event: str,
    at: float,
    item: dict[str, Any],
) -> int:
    result = connection.execute(
        _A.insert().values(
            incident_id=incident_id,
            monitor=monitor,
            route=route,
            event=event,
            at=at,
            status="pending",
            item=json.dumps(item),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _alert_event(row: Any) -> AlertEvent:
    return AlertEvent(
        int(row.id),
        int(row.incident_id),
        str(row.monitor),
        str(row.route),
        str(row.event),
        float(row.at),
        str(row.status),
        json.loads(row.item),
    )


def pending_events(connection: sa.Connection) -> list[AlertEvent]:
    rows = connection.execute(sa.select(_A).where(_A.c.status == "pending").order_by(_A.c.id))
    return [_alert_event(row) for row in rows]


def incident_routes(connection: sa.Connection, incident_id: int) -> dict[str, set[str]]:
    """Route → the statuses of this incident's firing events on it."""
    rows = connection.execute(
        sa.select(_A.c.route, _A.c.status).where(
            _A.c.incident_id == incident_id, _A.c.event == "firing"
        )
    )
    found: dict[str, set[str]] = {}
    for route, status in rows:
        found.setdefault(str(route), set()).add(str(status))
    return found


def still_pending(connection: sa.Connection, ids: Iterable[int]) -> bool:
    """Lock the alert events ``ids`` (in id order: two planners never deadlock on them) and
    tell whether every one is still pending. False when another planner settled one since it
    was read (a deposed alert leader and the new one planning the same events): the caller
    rolls back rather than announce them a second time. On PostgreSQL a planner that finds
    them locked waits for the other's commit and then sees them settled; SQLite runs one
    writer at a time."""
    wanted = sorted(set(ids))
    if not wanted:
        return True
    found = connection.execute(
        sa.select(_A.c.id)
        .where(_A.c.id.in_(wanted), _A.c.status == "pending")
        .order_by(_A.c.id)
        .with_for_update()
    ).all()
    return len(found) == len(wanted)


def mark_events(
    connection: sa.Connection, ids: Sequence[int], status: str, notification_id: int | None = None
) -> None:
    if ids:
        connection.execute(
            _A.update()
            .where(_A.c.id.in_(list(ids)))
            .values(status=status, notification_id=notification_id)
        )


def last_sent_items(connection: sa.Connection, route: str) -> list[dict[str, Any]]:
    """The newest firing item sent on ``route`` for each open incident (to re-send)."""
    newest = (
        sa.select(sa.func.max(_A.c.id))
        .where(
            _A.c.route == route,
            _A.c.status == "sent",
            _A.c.event.in_(("firing", "reminder", "escalation")),
        )
        .group_by(_A.c.incident_id)
    )
    rows = connection.execute(
        sa.select(_A.c.item)
        .join(_I, _I.c.id == _A.c.incident_id)
        .where(_A.c.id.in_(newest), _I.c.closed_at.is_(None))
    )
    return [json.loads(row[0]) for row in rows]


# -- the outbox ---------------------------------------------------------------------------
def add_notification(
    connection: sa.Connection,
    route: str,
    dedup_key: str,
    event: str,
    created_at: float,
    message: dict[str, Any],
) -> int:
    result = connection.execute(
        _N.insert().values(
            route=route,
            dedup_key=dedup_key,
            event=event,
            created_at=created_at,
            message=json.dumps(message),
            status="pending",
            next_attempt_at=created_at,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def add_notification_once(
    connection: sa.Connection,
    route: str,
    dedup_key: str,
    event: str,
    created_at: float,
    message: dict[str, Any],
) -> bool:
    """Queue a notification unless one with ``dedup_key`` was queued already (by this
    process before a restart, or by another node); True when it was queued now."""
    statement = (
        dialect_insert(connection, _N)
        .values(
            route=route,
            dedup_key=dedup_key,
            event=event,
            created_at=created_at,
            message=json.dumps(message),
            status="pending",
            next_attempt_at=created_at,
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"])
    )
    return bool(connection.execute(statement).rowcount)


def queued_since(connection: sa.Connection, dedup_keys: Sequence[str], since: float) -> bool:
    """Was any notification of these keys queued at ``since`` or later?"""
    if not dedup_keys:
        return False
    found = connection.scalar(
        sa.select(_N.c.id)
        .where(_N.c.dedup_key.in_(list(dedup_keys)), _N.c.created_at >= since)
        .limit(1)
    )
    return found is not None


def _outgoing(row: Any) -> Outgoing:
    return Outgoing(
        int(row.id),
        str(row.route),
        str(row.dedup_key),
        str(row.event),
        float(row.created_at),
        json.loads(row.message),
        str(row.status),
        int(row.attempts),
        float(row.next_attempt_at),
        row.last_error,
        row.delivered_at,
    )


def unfinished_notifications(connection: sa.Connection, limit: int) -> list[Outgoing]:
    """Notifications pending or being sent, oldest first."""
    rows = connection.execute(
        sa.select(_N).where(_N.c.status.in_(("pending", "sending"))).order_by(_N.c.id).limit(limit)
    )
    return [_outgoing(row) for row in rows]


def claim(connection: sa.Connection, notification_id: int, now: float, lease: float) -> bool:
    """Take a pending notification for delivery; False if another took it first."""
    result = connection.execute(
        _N.update()
        .where(_N.c.id == notification_id, _N.c.status == "pending")
        .values(status="sending", lease_until=now + lease, attempts=_N.c.attempts + 1)
    )
    return result.rowcount == 1


def finish(connection: sa.Connection, notification_id: int, **values: Any) -> None:
    connection.execute(_N.update().where(_N.c.id == notification_id).values(**values))


def release_expired(connection: sa.Connection, now: float) -> int:
    """Notifications left ``sending`` by a process that died go back to pending (they may
    have been delivered: their dedup key lets a receiver drop the second copy)."""
    result = connection.execute(
        _N.update()
        .where(_N.c.status == "sending", _N.c.lease_until < now)
        .values(status="pending", lease_until=None, next_attempt_at=now)
    )
    return int(result.rowcount or 0)


def notifications(
    connection: sa.Connection, *, limit: int, status: str | None = None
) -> list[Outgoing]:
    query = sa.select(_N)
    if status is not None:
        query = query.where(_N.c.status == status)
    return [_outgoing(row) for row in connection.execute(query.order_by(_N.c.id).limit(limit))]


def outbox_depth(connection: sa.Connection) -> int:
    return int(
        connection.scalar(
            sa.select(sa.func.count())
            .select_from(_N)
            .where(_N.c.status.in_(("pending", "sending")))
        )
        or 0
    )


# -- route health -------------------------------------------------------------------------
def route_health(connection: sa.Connection) -> dict[str, RouteHealth]:
    rows = connection.execute(sa.select(schema.route_health))
    return {
        str(r.route): RouteHealth(
            str(r.route), r.broken_since, r.last_error, r.last_success_at, r.last_failure_at
        )
        for r in rows
    }


def set_route_health(connection: sa.Connection, route: str, **values: Any) -> None:
    statement = dialect_insert(connection, schema.route_health).values(route=route, **values)
    connection.execute(statement.on_conflict_do_update(index_elements=["route"], set_=values))


# -- silences -----------------------------------------------------------------------------
def _silence(row: Any) -> Silence:
    return Silence(
        int(row.id),
        row.monitor,
        row.tag,
        float(row.starts_at),
        float(row.ends_at),
        row.reason,
        row.created_by,
        float(row.created_at),
        row.expired_at,
    )


def add_silence(
    connection: sa.Connection,
    *,
    monitor: str | None,
    tag: str | None,
    starts_at: float,
    ends_at: float,
    reason: str | None,
    created_by: str | None,
    now: float,
) -> Silence:
    result = connection.execute(
        schema.silences.insert().values(
            monitor=monitor,
            tag=tag,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            created_by=created_by,
            created_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return Silence(int(key[0]), monitor, tag, starts_at, ends_at, reason, created_by, now, None)


def silences(connection: sa.Connection, *, current_at: float | None) -> list[Silence]:
    """Every silence, or (with ``current_at``) those not yet over and not expired."""
    query = sa.select(schema.silences)
    if current_at is not None:
        query = query.where(
            schema.silences.c.expired_at.is_(None), schema.silences.c.ends_at > current_at
        )
    rows = connection.execute(query.order_by(schema.silences.c.id))
    return [_silence(row) for row in rows]


def expire_silence(connection: sa.Connection, silence_id: int, now: float) -> bool:
    result = connection.execute(
        schema.silences.update()
        .where(schema.silences.c.id == silence_id, schema.silences.c.expired_at.is_(None))
        .values(expired_at=now)
    )
    return result.rowcount == 1
