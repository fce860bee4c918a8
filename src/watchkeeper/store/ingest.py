"""The write path: monitor ids, bulk result inserts, transitions and the current state.

Every function runs inside the caller's transaction. Bulk inserts bypass SQLAlchemy's
parameter handling: SQLite gets one ``executemany`` of plain tuples, PostgreSQL one binary
``COPY`` (twice the rate of a pipelined executemany).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.model import Transition
from watchkeeper.store import schema
from watchkeeper.store.codec import RESULT_COLUMNS, ResultRow, transition_row

_COLUMN_LIST = ", ".join(RESULT_COLUMNS)
_SQLITE_INSERT = (
    f"INSERT INTO results ({_COLUMN_LIST}) VALUES ({', '.join('?' for _ in RESULT_COLUMNS)})"
)
_POSTGRES_COPY = f"COPY results ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)"
_POSTGRES_TYPES = [
    "int4",
    "float8",
    "bool",
    "int4",
    "text",
    "text",
    *["float8"] * 6,
    "text",
    "text",
]


class MonitorIds:
    """Name → id of monitors known to exist in the database; shared by threads."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> int | None:
        return self._ids.get(name)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._ids)

    def update(self, ids: Mapping[str, int]) -> None:
        """Record ids; call only after the transaction that created them committed."""
        with self._lock:
            self._ids.update(ids)


def upsert_monitors(
    connection: sa.Connection, monitors: Iterable[tuple[str, str, str]]
) -> dict[str, int]:
    """Insert or update ``(name, kind, target)``; returns name → id for every name given."""
    rows = {name: {"name": name, "kind": kind, "target": target} for name, kind, target in monitors}
    if not rows:
        return {}
    statement = dialect_insert(connection, schema.monitors)
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"kind": statement.excluded.kind, "target": statement.excluded.target},
    )
    connection.execute(statement, list(rows.values()))
    return _ids_of(connection, rows)


def register_monitors(connection: sa.Connection, kinds: Mapping[str, str]) -> dict[str, int]:
    """Ids for names, creating missing monitors with the given kind (target empty).

    An existing monitor keeps its kind unless it has none yet (registered by a transition).
    """
    if not kinds:
        return {}
    statement = dialect_insert(connection, schema.monitors)
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"kind": statement.excluded.kind},
        where=schema.monitors.c.kind == "",
    )
    connection.execute(
        statement,
        [{"name": name, "kind": kind, "target": ""} for name, kind in kinds.items()],
    )
    return _ids_of(connection, kinds)


def insert_results(connection: sa.Connection, rows: Sequence[ResultRow]) -> None:
    """Result rows (with their series), in bulk."""
    _bulk_insert(connection, _SQLITE_INSERT, _POSTGRES_COPY, _POSTGRES_TYPES, rows)


def _bulk_insert(
    connection: sa.Connection,
    sqlite_insert: str,
    postgres_copy: str,
    postgres_types: list[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """One ``executemany`` of plain tuples on SQLite, one binary ``COPY`` on PostgreSQL."""
    if not rows:
        return
    driver = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sqlite_insert, rows)
        finally:
            cursor.close()
        return
    with driver.cursor() as cursor, cursor.copy(postgres_copy) as copy:  # type: ignore[union-attr]
        copy.set_types(postgres_types)
        for row in rows:
            copy.write_row(row)


def record_transitions(
    connection: sa.Connection, transitions: Sequence[Transition], ids: Mapping[str, int]
) -> None:
    """Append to ``state_changes`` and set ``monitor_state`` (the last transition wins)."""
    if not transitions:
        return
    connection.execute(
        schema.state_changes.insert(),
        [transition_row(t, ids[t.monitor]) for t in transitions],
    )
    latest: dict[int, dict[str, Any]] = {}
    for transition in transitions:
        row = transition_row(transition, ids[transition.monitor])
        latest[row["monitor_id"]] = {
            "monitor_id": row["monitor_id"],
            "state": row["to_state"],
            "since": row["at"],
            "reason": row["reason"],
        }
    statement = dialect_insert(connection, schema.monitor_state)
    statement = statement.on_conflict_do_update(
        index_elements=["monitor_id"],
        set_={
            "state": statement.excluded.state,
            "since": statement.excluded.since,
            "reason": statement.excluded.reason,
        },
    )
    connection.execute(statement, list(latest.values()))


def set_meta(connection: sa.Connection, key: str, value: str) -> None:
    statement = dialect_insert(connection, schema.meta).values(key=key, value=value)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["key"], set_={"value": statement.excluded.value}
        )
    )


def get_meta(connection: sa.Connection, key: str) -> str | None:
    value = connection.scalar(sa.select(schema.meta.c.value).where(schema.meta.c.key == key))
    return None if value is None else str(value)


def _ids_of(connection: sa.Connection, names: Iterable[str]) -> dict[str, int]:
    wanted = list(names)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = sa.select(schema.monitors.c.name, schema.monitors.c.id).where(
            schema.monitors.c.name.in_(chunk)
        )
        found.update({name: int(id_) for name, id_ in connection.execute(query)})
    return found


def dialect_insert(connection: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT`` (same syntax on both). Imported here:
    the engine has loaded its own dialect, and the other one costs a SQLite store 50 ms."""
    if connection.dialect.name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    from sqlalchemy.dialects import postgresql

    return postgresql.insert(table)
