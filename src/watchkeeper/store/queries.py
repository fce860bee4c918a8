"""Reads: raw results, current states and state changes, oldest first.

Time windows are half-open: ``since`` inclusive, ``until`` exclusive. Rows with the same time
keep the order they were written in.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from watchkeeper.model import Result, State, StoredState, Transition
from watchkeeper.store import raw, schema
from watchkeeper.store.codec import transition_from_row


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
    checks = raw.read(
        connection,
        [monitor_id],
        since,
        until,
        texts=True,
        failed_only=failed_only,
        limit=limit,
        newest=newest_first,
    )
    out = checks.results(monitor, kind)
    if newest_first:
        out.reverse()
    return out


def last_results(connection: sa.Connection, monitor: str, n: int) -> list[Result]:
    found = find_monitor(connection, monitor)
    if found is None or n <= 0:
        return []
    monitor_id, kind = found
    checks = raw.read(connection, [monitor_id], texts=True, limit=n, newest=True)
    return checks.results(monitor, kind)


def recent_results(
    connection: sa.Connection, wanted: Mapping[str, int], since: float
) -> dict[str, list[Result]]:
    """For each monitor named in ``wanted``, its newest ``wanted[name]`` results from
    ``since`` on, oldest first: one read for them all (a node taking over thousands of
    monitors would otherwise ask once per monitor)."""
    rows = connection.execute(
        sa.select(schema.monitors.c.id, schema.monitors.c.name, schema.monitors.c.kind).where(
            schema.monitors.c.name.in_(list(wanted))
        )
    ).all()
    if not rows:
        return {}
    named = {int(r[0]): (str(r[1]), str(r[2])) for r in rows}
    checks = raw.read(connection, list(named), since, texts=True)
    positions: dict[int, list[int]] = {}
    for index, monitor_id in enumerate(checks.monitor_id):
        positions.setdefault(monitor_id, []).append(index)
    out: dict[str, list[Result]] = {}
    for monitor_id, found in positions.items():
        name, kind = named[monitor_id]
        keep = wanted[name]
        out[name] = checks.take(found[-keep:] if keep > 0 else []).results(name, kind)
    return out


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
    checks = raw.read(connection, [found[0]], since, until, limit=limit, newest=True)
    out["ts"] = list(checks.ts)
    out["ok"] = [1.0 if ok else 0.0 for ok in checks.ok]
    for index, name in enumerate(names):
        out[name] = checks.milliseconds_of(index)
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
    """The newest result of every monitor that has one (an index probe per monitor inside
    the database, not a round trip per monitor)."""
    monitors = schema.monitors
    names = {
        int(id_): (str(name), str(kind))
        for id_, name, kind in connection.execute(
            sa.select(monitors.c.id, monitors.c.name, monitors.c.kind)
        )
    }
    out: dict[str, Result] = {}
    for monitor_id, check in raw.newest(connection).items():
        if monitor_id in names:
            name, kind = names[monitor_id]
            out[name] = check.results(name, kind)[0]
    return out
