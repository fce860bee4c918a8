"""Reads: raw results, current states and state changes, oldest first.

Time windows are half-open: ``since`` inclusive, ``until`` exclusive. Rows with the same time
keep the order they were written in.
"""

from __future__ import annotations

import sqlalchemy as sa

from watchkeeper.model import Result, State, StoredState, Transition
from watchkeeper.store import schema
from watchkeeper.store.codec import STORED_FIELDS, result_from_row, transition_from_row

_RESULT_FIELDS = [schema.results.c[name] for name in STORED_FIELDS]


def find_monitor(connection: sa.Connection, name: str) -> tuple[int, str] | None:
    """``(id, kind)`` of the monitor called ``name``."""
    row = connection.execute(
        sa.select(schema.monitors.c.id, schema.monitors.c.kind).where(
            schema.monitors.c.name == name
        )
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def monitor_ids(connection: sa.Connection) -> list[int]:
    return [int(id_) for id_ in connection.scalars(sa.select(schema.monitors.c.id))]


def results(
    connection: sa.Connection,
    monitor: str,
    since: float,
    until: float | None,
    limit: int,
    *,
    failed_only: bool,
    newest_first: bool = False,
) -> list[Result]:
    found = find_monitor(connection, monitor)
    if found is None or limit <= 0:
        return []
    monitor_id, kind = found
    table = schema.results
    query = sa.select(*_RESULT_FIELDS).where(table.c.monitor_id == monitor_id, table.c.ts >= since)
    if until is not None:
        query = query.where(table.c.ts < until)
    if failed_only:
        query = query.where(sa.not_(table.c.ok))
    if newest_first:
        query = query.order_by(table.c.ts.desc(), table.c.id.desc()).limit(limit)
    else:
        query = query.order_by(table.c.ts, table.c.id).limit(limit)
    return [result_from_row(monitor, kind, row) for row in connection.execute(query)]


def last_results(connection: sa.Connection, monitor: str, n: int) -> list[Result]:
    found = find_monitor(connection, monitor)
    if found is None or n <= 0:
        return []
    monitor_id, kind = found
    table = schema.results
    query = (
        sa.select(*_RESULT_FIELDS)
        .where(table.c.monitor_id == monitor_id)
        .order_by(table.c.ts.desc(), table.c.id.desc())
        .limit(n)
    )
    newest_first = [result_from_row(monitor, kind, row) for row in connection.execute(query)]
    newest_first.reverse()
    return newest_first


PhaseRows = dict[str, list[float | None]]
"""Column-wise: ``ts``, ``ok`` (1/0) and each phase in milliseconds (``total``, ``dns``,
``connect``, ``tls``, ``ttfb``, ``transfer``; None where a phase did not apply)."""


def phase_rows(
    connection: sa.Connection, monitor: str, since: float, until: float, limit: int
) -> PhaseRows:
    """Time, outcome and latency phases of ``monitor``'s raw results, oldest first, column by
    column (what the diagnosis turns into arrays), the newest ``limit`` at most."""
    names = ["total", "dns", "connect", "tls", "ttfb", "transfer"]
    out: PhaseRows = {"ts": [], "ok": [], **{name: [] for name in names}}
    found = find_monitor(connection, monitor)
    if found is None or limit <= 0:
        return out
    table = schema.results
    query = (
        sa.select(table.c.ts, table.c.ok, *(table.c[f"{name}_ms"] for name in names))
        .where(table.c.monitor_id == found[0], table.c.ts >= since, table.c.ts < until)
        .order_by(table.c.ts.desc(), table.c.id.desc())
        .limit(limit)
    )
    rows = list(connection.execute(query).all())
    rows.reverse()
    for column, values in zip(["ts", "ok", *names], zip(*rows, strict=True), strict=False):
        out[column] = [None if value is None else float(value) for value in values]
    return out


def states(connection: sa.Connection) -> dict[str, StoredState]:
    state, monitors = schema.monitor_state, schema.monitors
    query = sa.select(monitors.c.name, state.c.state, state.c.since, state.c.reason).join_from(
        state, monitors, state.c.monitor_id == monitors.c.id
    )
    return {
        name: StoredState(name, State(value), float(since), reason)
        for name, value, since, reason in connection.execute(query)
    }


def transitions(
    connection: sa.Connection, monitor: str | None, since: float, limit: int
) -> list[Transition]:
    changes, monitors = schema.state_changes, schema.monitors
    query = sa.select(
        monitors.c.name, changes.c.at, changes.c.from_state, changes.c.to_state, changes.c.reason
    ).join_from(changes, monitors, changes.c.monitor_id == monitors.c.id)
    if monitor is not None:
        query = query.where(monitors.c.name == monitor)
    query = query.where(changes.c.at >= since).order_by(changes.c.at, changes.c.id).limit(limit)
    return [transition_from_row(row[0], row[1:]) for row in connection.execute(query)]


def latest_results(connection: sa.Connection) -> dict[str, Result]:
    """The newest result of every monitor that has one, in one query (an index probe per
    monitor inside the database, not a round trip per monitor)."""
    results, monitors = schema.results, schema.monitors
    newest = (
        sa.select(results.c.id)
        .where(results.c.monitor_id == monitors.c.id)
        .order_by(results.c.ts.desc(), results.c.id.desc())
        .limit(1)
        .correlate(monitors)
        .scalar_subquery()
    )
    query = sa.select(monitors.c.name, monitors.c.kind, *_RESULT_FIELDS).select_from(
        monitors.join(results, results.c.id == newest)
    )
    return {
        str(row[0]): result_from_row(str(row[0]), str(row[1]), row[2:])
        for row in connection.execute(query)
    }
