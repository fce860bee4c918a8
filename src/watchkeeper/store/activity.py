"""The activity log's rows: append, add to an aggregate, read with filters, prune.

Every function takes the caller's connection, inside the caller's transaction. What goes in
(masking, size caps, aggregation of failed logins) is decided above, in
``watchkeeper.activity``; here a row is stored as it is given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import schema

_A = schema.activity


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the activity log."""

    at: float
    actor: str
    action: str
    subject: str | None = None
    address: str | None = None
    outcome: str = "ok"
    detail: dict[str, Any] = field(default_factory=dict)
    count: int = 1
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "address": self.address,
            "outcome": self.outcome,
            "count": self.count,
            "detail": self.detail,
        }


def _values(entry: Entry) -> dict[str, Any]:
    return {
        "at": entry.at,
        "count": entry.count,
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "address": entry.address,
        "outcome": entry.outcome,
        "detail": json.dumps(entry.detail, separators=(",", ":"), sort_keys=True)
        if entry.detail
        else None,
    }


def append(connection: sa.Connection, entry: Entry) -> int:
    """Store one entry; its row id."""
    key = connection.execute(_A.insert().values(**_values(entry))).inserted_primary_key
    assert key is not None
    return int(key[0])


def append_many(connection: sa.Connection, entries: Sequence[Entry]) -> None:
    if entries:
        connection.execute(_A.insert(), [_values(e) for e in entries])


def replace(connection: sa.Connection, row_id: int, entry: Entry) -> None:
    """Rewrite an aggregate row (its count and detail grew)."""
    connection.execute(_A.update().where(_A.c.id == row_id).values(**_values(entry)))


def _entry(row: Any) -> Entry:
    detail: dict[str, Any] = {}
    if row.detail:
        try:
            loaded = json.loads(row.detail)
        except ValueError:
            loaded = {"unreadable": True}
        detail = loaded if isinstance(loaded, dict) else {"value": loaded}
    return Entry(
        id=int(row.id),
        at=float(row.at),
        count=int(row.count),
        actor=str(row.actor),
        action=str(row.action),
        subject=row.subject,
        address=row.address,
        outcome=str(row.outcome),
        detail=detail,
    )


def entries(
    connection: sa.Connection,
    *,
    since: float | None = None,
    until: float | None = None,
    actor: str | None = None,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
    oldest_first: bool = False,
) -> list[Entry]:
    """Entries from ``since`` (inclusive) to ``until`` (exclusive), newest first (or oldest
    first). ``action`` matches itself and the verbs under it (``login`` matches
    ``login.failed``); ``actor`` matches exactly; ``before_id`` pages back."""
    query = sa.select(_A)
    if since is not None:
        query = query.where(_A.c.at >= since)
    if until is not None:
        query = query.where(_A.c.at < until)
    if actor is not None:
        query = query.where(_A.c.actor == actor)
    if action is not None:
        escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            sa.or_(_A.c.action == action, _A.c.action.like(escaped + ".%", escape="\\"))
        )
    if before_id is not None:
        query = query.where(_A.c.id < before_id)
    order = (_A.c.at, _A.c.id) if oldest_first else (_A.c.at.desc(), _A.c.id.desc())
    return [_entry(row) for row in connection.execute(query.order_by(*order).limit(limit))]


def prune(connection: sa.Connection, before: float) -> int:
    """Delete entries older than ``before``; how many."""
    return int(connection.execute(_A.delete().where(_A.c.at < before)).rowcount or 0)


def count(connection: sa.Connection) -> int:
    return int(connection.scalar(sa.select(sa.func.count()).select_from(_A)) or 0)
