"""Monitors and maintenance windows defined through the API, kept as the JSON a user sent
(validated by the config layer before they get here).

Every function takes the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import schema


@dataclass(frozen=True, slots=True)
class Definition:
    """A monitor or maintenance window defined through the API: its JSON spec as sent."""

    name: str
    spec: dict[str, Any]
    created_at: float
    created_by: str | None
    id: int | None = None
    updated_at: float | None = None
    unreadable: str | None = None
    """Why the stored spec could not be read back (then ``spec`` is empty)."""


_AM = schema.api_monitors
_AW = schema.api_maintenance


def api_monitors(connection: sa.Connection) -> list[Definition]:
    rows = connection.execute(sa.select(_AM).order_by(_AM.c.created_at, _AM.c.name))
    found: list[Definition] = []
    for row in rows:
        spec: dict[str, Any] = {}
        unreadable = None
        try:
            spec = json.loads(row.spec)
        except ValueError as exc:
            unreadable = f"its stored spec is not JSON ({exc})"
        found.append(
            Definition(
                name=str(row.name),
                spec=spec,
                created_at=float(row.created_at),
                created_by=row.created_by,
                updated_at=float(row.updated_at),
                unreadable=unreadable,
            )
        )
    return found


def put_api_monitor(
    connection: sa.Connection, name: str, spec: dict[str, Any], by: str | None, now: float
) -> bool:
    """Create or replace; returns True when it was created."""
    text = json.dumps(spec, separators=(",", ":"))
    updated = connection.execute(
        _AM.update().where(_AM.c.name == name).values(spec=text, updated_at=now)
    )
    if updated.rowcount:
        return False
    connection.execute(
        _AM.insert().values(name=name, spec=text, created_at=now, updated_at=now, created_by=by)
    )
    return True


def delete_api_monitor(connection: sa.Connection, name: str) -> bool:
    return bool(connection.execute(_AM.delete().where(_AM.c.name == name)).rowcount)


def api_maintenance(connection: sa.Connection) -> list[Definition]:
    rows = connection.execute(sa.select(_AW).order_by(_AW.c.id))
    return [
        Definition(
            id=int(row.id),
            name=str(row.name),
            spec=json.loads(row.spec),
            created_at=float(row.created_at),
            created_by=row.created_by,
        )
        for row in rows
    ]


def add_api_maintenance(
    connection: sa.Connection, name: str, spec: dict[str, Any], by: str | None, now: float
) -> int:
    result = connection.execute(
        _AW.insert().values(
            name=name, spec=json.dumps(spec, separators=(",", ":")), created_at=now, created_by=by
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def delete_api_maintenance(connection: sa.Connection, window_id: int) -> bool:
    return bool(connection.execute(_AW.delete().where(_AW.c.id == window_id)).rowcount)
