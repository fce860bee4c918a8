"""Agents (``wk agent``) as the nodes hear from them, and the cluster's inbox of agents'
results for monitors another node holds.

Every function takes the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import schema
from watchkeeper.store.ingest import dialect_insert

_A = schema.agents
_I = schema.cluster_inbox

COUNTS = ("checks", "pushed", "buffered", "dropped")
"""What an agent reports of itself at every push."""


@dataclass(frozen=True, slots=True)
class Agent:
    location: str
    name: str
    version: str | None
    address: str | None
    node: str | None
    started_at: float | None
    first_seen: float
    last_seen: float
    clock_offset: float | None
    lag_p99: float | None
    checks: int
    pushed: int
    buffered: int
    dropped: int
    refused: int


def heard(
    connection: sa.Connection,
    *,
    location: str,
    name: str,
    token_id: int | None,
    now: float,
    version: str | None,
    address: str | None,
    node: str | None,
    started_at: float | None,
    clock_offset: float | None,
    lag_p99: float | None = None,
    counts: dict[str, int],
    refused: int,
) -> None:
    """An agent pushed (results or only its health): remember when, and what it said."""
    values: dict[str, Any] = {
        "location": location,
        "name": name,
        "token_id": token_id,
        "version": version,
        "address": address,
        "node": node,
        "started_at": started_at,
        "first_seen": now,
        "last_seen": now,
        "clock_offset": clock_offset,
        "lag_p99": lag_p99,
        "refused": refused,
        **{key: int(counts.get(key, 0)) for key in COUNTS},
    }
    statement = dialect_insert(connection, _A)
    update = {
        key: statement.excluded[key]
        for key in values
        if key not in ("location", "name", "first_seen", "refused")
    }
    update["refused"] = _A.c.refused + statement.excluded.refused
    connection.execute(
        statement.on_conflict_do_update(index_elements=["location", "name"], set_=update),
        values,
    )


def agents(connection: sa.Connection) -> list[Agent]:
    rows = connection.execute(sa.select(_A).order_by(_A.c.location, _A.c.name)).all()
    return [
        Agent(
            location=row.location,
            name=row.name,
            version=row.version,
            address=row.address,
            node=row.node,
            started_at=row.started_at,
            first_seen=float(row.first_seen),
            last_seen=float(row.last_seen),
            clock_offset=row.clock_offset,
            lag_p99=row.lag_p99,
            checks=int(row.checks),
            pushed=int(row.pushed),
            buffered=int(row.buffered),
            dropped=int(row.dropped),
            refused=int(row.refused),
        )
        for row in rows
    ]


def forget(connection: sa.Connection, location: str, name: str) -> bool:
    """Drop an agent's row (``wk agent forget``); True if there was one."""
    done = connection.execute(sa.delete(_A).where(_A.c.location == location, _A.c.name == name))
    return bool(done.rowcount)


# -- the cluster's inbox ---------------------------------------------------------------------
def post(connection: sa.Connection, items: Sequence[tuple[str, str]], now: float) -> None:
    """Leave ``(monitor, body)`` for whichever node holds the monitor."""
    if items:
        connection.execute(
            sa.insert(_I),
            [{"monitor": m, "received_at": now, "body": body} for m, body in items],
        )


def collect(connection: sa.Connection, node: str, limit: int = 10_000) -> list[tuple[str, str]]:
    """Take (and delete) what waits for the monitors ``node`` holds now, oldest first
    (PostgreSQL: rows locked by another taker are skipped, never taken twice)."""
    leases = schema.cluster_leases
    picked = (
        sa.select(_I.c.id)
        .join(leases, leases.c.monitor == _I.c.monitor)
        .where(leases.c.node == node)
        .order_by(_I.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=_I)
    )
    rows = connection.execute(
        sa.delete(_I).where(_I.c.id.in_(picked)).returning(_I.c.id, _I.c.monitor, _I.c.body)
    ).all()
    return [(row.monitor, row.body) for row in sorted(rows, key=lambda r: r.id)]


def expire(connection: sa.Connection, before: float) -> int:
    """Drop what nobody took (its monitor is gone): it is in the results anyway."""
    return int(connection.execute(sa.delete(_I).where(_I.c.received_at < before)).rowcount)
