"""Heartbeat tables: each monitor's ping UUID, the pings, and what the newest pings say (to
rebuild the in-memory state after a restart). The caller's connection and transaction.

How many pings are kept: a monitor's newest ``RECENT`` always (its state is rebuilt from
them), older ones until the raw retention horizon, and never more than ``KEEP`` (``trim``,
as pings are written), so the table is bounded by the heartbeat monitors, whoever pings.
"""

from __future__ import annotations

import uuid as uuids
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from watchkeeper.errors import WatchkeeperError
from watchkeeper.store import schema

_H = schema.heartbeats
_P = schema.pings
_M = schema.monitors

RECENT = 200
"""The newest pings of a monitor that rebuild its state at start (``recent``); retention
never deletes these, however old."""
KEEP = 1000
"""The most pings kept per monitor (the newest)."""
TRIM_BATCH = 5000
"""The most rows one ``trim`` deletes (a store from before the cap catches up in steps)."""


@dataclass(frozen=True, slots=True)
class Ping:
    monitor_id: int
    ts: float
    kind: str
    """success | start | fail | exit"""
    exit_code: int | None = None
    rid: str | None = None
    duration: float | None = None
    body: str | None = None
    source: str | None = None


class UuidTaken(WatchkeeperError):
    """A ping UUID a heartbeat monitor asks for belongs to another monitor that is watched."""

    def __init__(self, uuid: str, holder: str) -> None:
        self.uuid = uuid
        self.holder = holder
        super().__init__(f"heartbeat uuid {uuid} is already used by monitor '{holder}'")


def ensure_uuid(
    connection: sa.Connection,
    monitor_id: int,
    wanted: str | None,
    now: float,
    watched: Collection[int] = (),
) -> tuple[str, float]:
    """The monitor's ping UUID (``wanted`` if given, else the stored one, else a new one)
    and since when it is watched.

    A ``wanted`` UUID another monitor holds is taken from it when that monitor is not among
    the ``watched`` ids (it was renamed or removed); otherwise this raises UuidTaken and the
    caller's transaction should roll back."""
    row = connection.execute(
        sa.select(_H.c.uuid, _H.c.created_at).where(_H.c.monitor_id == monitor_id)
    ).first()
    if row is not None and (wanted is None or row.uuid == wanted):
        return str(row.uuid), float(row.created_at)
    chosen = wanted or str(uuids.uuid4())
    holder = connection.scalar(
        sa.select(_H.c.monitor_id).where(_H.c.uuid == chosen, _H.c.monitor_id != monitor_id)
    )
    if holder is not None:
        if holder in watched:
            name = connection.scalar(sa.select(_M.c.name).where(_M.c.id == holder))
            raise UuidTaken(chosen, str(name))
        connection.execute(_H.delete().where(_H.c.monitor_id == holder))
    if row is not None:
        connection.execute(_H.update().where(_H.c.monitor_id == monitor_id).values(uuid=chosen))
        return chosen, float(row.created_at)
    connection.execute(_H.insert().values(monitor_id=monitor_id, uuid=chosen, created_at=now))
    return chosen, now


def stored_uuid(connection: sa.Connection, monitor_id: int) -> str | None:
    return connection.scalar(sa.select(_H.c.uuid).where(_H.c.monitor_id == monitor_id))


def holders(connection: sa.Connection) -> dict[str, str]:
    """Every stored ping UUID and the name of the monitor holding it."""
    rows = connection.execute(
        sa.select(_H.c.uuid, _M.c.name).join(_M, _M.c.id == _H.c.monitor_id)
    ).all()
    return {str(row.uuid): str(row.name) for row in rows}


@dataclass(frozen=True, slots=True)
class Watched:
    """A heartbeat monitor a ``wk up`` has taken pings for: its id and since when."""

    monitor_id: int
    since: float


def watched(connection: sa.Connection, names: Collection[str]) -> dict[str, Watched]:
    """Those of ``names`` that have a ping UUID (a ``wk up`` watched them), by name. Reads
    only: a name without one gets none here."""
    if not names:
        return {}
    rows = connection.execute(
        sa.select(_M.c.name, _H.c.monitor_id, _H.c.created_at)
        .join(_M, _M.c.id == _H.c.monitor_id)
        .where(_M.c.name.in_(list(names)))
    ).all()
    return {str(row.name): Watched(int(row.monitor_id), float(row.created_at)) for row in rows}


def add(connection: sa.Connection, pings: list[Ping]) -> None:
    if pings:
        connection.execute(
            _P.insert(),
            [
                {
                    "monitor_id": p.monitor_id,
                    "ts": p.ts,
                    "kind": p.kind,
                    "exit_code": p.exit_code,
                    "rid": p.rid,
                    "duration": p.duration,
                    "body": p.body,
                    "source": p.source,
                }
                for p in pings
            ],
        )


def recent(connection: sa.Connection, monitor_id: int, limit: int = RECENT) -> list[Ping]:
    """The newest pings of a monitor, oldest first."""
    rows = connection.execute(
        sa.select(_P)
        .where(_P.c.monitor_id == monitor_id)
        .order_by(_P.c.ts.desc(), _P.c.id.desc())
        .limit(limit)
    ).all()
    return [
        Ping(
            int(r.monitor_id),
            float(r.ts),
            str(r.kind),
            r.exit_code,
            r.rid,
            r.duration,
            r.body,
            r.source,
        )
        for r in reversed(rows)
    ]


def count(connection: sa.Connection, monitor_id: int | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(_P)
    if monitor_id is not None:
        query = query.where(_P.c.monitor_id == monitor_id)
    return int(connection.scalar(query) or 0)


def newest_ts(connection: sa.Connection, monitor_id: int, rank: int) -> float | None:
    """The time of a monitor's ``rank``-th newest ping (1: the newest); None if it has fewer."""
    value = connection.scalar(
        sa.select(_P.c.ts)
        .where(_P.c.monitor_id == monitor_id)
        .order_by(_P.c.ts.desc(), _P.c.id.desc())
        .offset(rank - 1)
        .limit(1)
    )
    return None if value is None else float(value)


def trim(connection: sa.Connection, monitor_id: int, keep: int = KEEP) -> int:
    """Delete a monitor's pings beyond its newest ``keep`` (at most ``TRIM_BATCH`` of them,
    oldest first); returns how many."""
    boundary = connection.execute(
        sa.select(_P.c.ts, _P.c.id)
        .where(_P.c.monitor_id == monitor_id)
        .order_by(_P.c.ts.desc(), _P.c.id.desc())
        .offset(keep)
        .limit(1)
    ).first()
    if boundary is None:
        return 0
    older = sa.or_(_P.c.ts < boundary.ts, sa.and_(_P.c.ts == boundary.ts, _P.c.id <= boundary.id))
    oldest = (
        sa.select(_P.c.id)
        .where(_P.c.monitor_id == monitor_id, older)
        .order_by(_P.c.ts, _P.c.id)
        .limit(TRIM_BATCH)
        .scalar_subquery()
    )
    return max(connection.execute(sa.delete(_P).where(_P.c.id.in_(oldest))).rowcount, 0)
