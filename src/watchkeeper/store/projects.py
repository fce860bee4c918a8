"""Error-tracking projects: their ids (the DSN's project id), names and keys.

A project of the config is registered by name the first time it is seen and keeps its id;
its key lives in the config when the config gives one (a secret is not stored), else one is
made here once. A project made at run time (``wk project add``, the API) keeps its key and
settings (rate limit, origins, routes: JSON) here. Every function takes the caller's
connection, inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.errors import WatchkeeperError
from watchkeeper.store import schema
from watchkeeper.store.ingest import dialect_insert

_P = schema.error_projects
CONFIG = "config"
API = "api"


@dataclass(frozen=True, slots=True)
class StoredProject:
    id: int
    name: str
    public_key: str | None
    """The key made for it; None when the config gives it its own."""
    source: str
    """``config`` or ``api``."""
    settings: dict[str, Any]
    """A project of the API's: ``rate_limit``, ``origins``, ``notify``."""
    created_at: float
    created_by: str | None


class ProjectTaken(WatchkeeperError):
    """A project of that name exists already."""


def _project(row: Any) -> StoredProject:
    try:
        settings = json.loads(row.settings) if row.settings else {}
    except ValueError:
        settings = {}
    return StoredProject(
        id=int(row.id),
        name=str(row.name),
        public_key=row.public_key,
        source=str(row.source),
        settings=settings if isinstance(settings, dict) else {},
        created_at=float(row.created_at),
        created_by=row.created_by,
    )


def projects(connection: sa.Connection) -> list[StoredProject]:
    """Every project, by id."""
    return [_project(row) for row in connection.execute(sa.select(_P).order_by(_P.c.id))]


def project(
    connection: sa.Connection, *, project_id: int | None = None, name: str | None = None
) -> StoredProject | None:
    """The project of that id (else of that name); None if there is none."""
    query = sa.select(_P)
    if project_id is not None:
        query = query.where(_P.c.id == project_id)
    else:
        query = query.where(_P.c.name == name)
    row = connection.execute(query).first()
    return None if row is None else _project(row)


def ensure_config_projects(
    connection: sa.Connection,
    wanted: Mapping[str, bool],
    now: float,
    new_key: Callable[[], str],
) -> dict[str, StoredProject]:
    """Register the config's projects by name (``wanted``: name → does the config give its
    key), returning each one's row. A project the config now gives a key drops the one made
    for it; one that no longer does gets a new one; a project made through the API that the
    config now defines becomes the config's."""
    found = {p.name: p for p in projects(connection) if p.name in wanted}
    for name, has_key in wanted.items():
        row = found.get(name)
        key = None if has_key else new_key()
        if row is None:  # another node may register it at the same moment: either wins
            statement = dialect_insert(connection, _P).values(
                name=name, public_key=key, source=CONFIG, settings=None, created_at=now
            )
            connection.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
            continue
        changes: dict[str, Any] = {}
        if row.source != CONFIG:
            changes.update(source=CONFIG, settings=None)
        if has_key and row.public_key is not None:
            changes["public_key"] = None
        elif not has_key and row.public_key is None:
            changes["public_key"] = key
        if changes:
            connection.execute(sa.update(_P).where(_P.c.id == row.id).values(**changes))
    return {p.name: p for p in projects(connection) if p.name in wanted}


def add_project(
    connection: sa.Connection,
    name: str,
    key: str,
    settings: Mapping[str, Any],
    now: float,
    by: str | None = None,
) -> StoredProject:
    """A project made at run time; ProjectTaken if the name is."""
    statement = dialect_insert(connection, _P).values(
        name=name,
        public_key=key,
        source=API,
        settings=json.dumps(dict(settings), ensure_ascii=False),
        created_at=now,
        created_by=by,
    )
    done = connection.execute(
        statement.on_conflict_do_nothing(index_elements=["name"]).returning(_P.c.id)
    ).first()
    if done is None:
        raise ProjectTaken(f"a project named '{name}' exists already")
    made = project(connection, name=name)
    assert made is not None
    return made


def names(connection: sa.Connection, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = connection.execute(sa.select(_P.c.id, _P.c.name).where(_P.c.id.in_(wanted)))
    return {int(row.id): str(row.name) for row in rows}
