"""Compaction: a monitor's older raw results packed into chunks, a slice at a time.

The writer appends one ``results`` row per check, the cheapest write there is. Once a monitor
has ``PACK_CHECKS`` results older than the grace (results may still arrive until then) and
already in the 1-minute rollups (which read the newest results: rows, cheaper to read than
chunks), or its oldest of them waited ``PACK_AGE`` past that, those rows become chunks (at most
``MAX_CHECKS`` checks and ``chunks.MAX_SPAN`` seconds each) and are deleted, in one
transaction: a reader finds each check in one tier or the other, never both or neither.
Rows are deleted by the ids that were read, so a result written meanwhile stays a row.

A late result whose time a chunk already covers is packed by rewriting that chunk with it,
so the chunks of a monitor never overlap and a read of a window stays in time order.

Each call packs at most about ``BUDGET`` results, a few hundred monitors per transaction, and
the next call goes on after the last monitor it reached: a store just upgraded (its whole
history in rows) is packed between checks, not in one long pause.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from watchkeeper.store import chunks, codec, rollups, sample_rollups, schema
from watchkeeper.store.chunks import Check
from watchkeeper.store.database import writing
from watchkeeper.store.queries import monitor_ids
from watchkeeper.store.rollups import watermark

PACK_CHECKS = 12
PACK_AGE = 1800.0
MAX_CHECKS = 256
BUDGET = 100_000
_ID_CHUNK = 500
_DELETE_CHUNK = 5000  # row ids per DELETE (SQLite takes up to 32,766 parameters)
_LOCK = 88440006  # PostgreSQL advisory lock: one compaction at a time per database


def compact(engine: sa.Engine, now: float, grace: float, after: int = 0) -> tuple[int, int]:
    """Pack what is due of the results older than ``now - grace`` and already in the 1-minute
    rollups, starting with the monitors after id ``after``; returns the results packed and
    the monitor id to go on after."""
    with engine.connect() as connection:
        ids = sorted(monitor_ids(connection))
        marks = [
            watermark(connection, rollups.MINUTE),
            watermark(connection, sample_rollups.MINUTE),
        ]
    horizon = min([now - grace, *(float(mark) for mark in marks if mark is not None)])
    ordered = [i for i in ids if i > after] + [i for i in ids if i <= after]
    packed, last = 0, after
    for first in range(0, len(ordered), _ID_CHUNK):
        group = ordered[first : first + _ID_CHUNK]
        with engine.connect() as connection:
            due = _due(connection, group, horizon)
        if due:
            with writing(engine).begin() as connection:
                count, reached = _pack(connection, due, horizon, BUDGET - packed)
            packed += count
            if reached is not None:  # out of budget inside this monitor: it goes on there
                return packed, reached - 1
        last = group[-1]
        if packed >= BUDGET:
            break
        time.sleep(0)  # let the event loop's thread have the interpreter between groups
    return packed, last


def _due(connection: sa.Connection, ids: list[int], horizon: float) -> list[int]:
    """The monitors of ``ids`` with ``PACK_CHECKS`` results before ``horizon``, or one that
    waited ``PACK_AGE`` past it: two index probes per monitor, however many rows it has."""
    table, monitors = schema.results, schema.monitors
    own = sa.and_(table.c.monitor_id == monitors.c.id, table.c.ts < horizon)
    oldest = sa.select(sa.func.min(table.c.ts)).where(own).scalar_subquery()
    enough = (
        sa.select(table.c.ts).where(own).order_by(table.c.ts).offset(PACK_CHECKS - 1).limit(1)
    ).scalar_subquery()
    query = sa.select(monitors.c.id, oldest, enough).where(monitors.c.id.in_(ids))
    return sorted(
        int(monitor_id)
        for monitor_id, first, enough_of_them in connection.execute(query)
        if first is not None and (enough_of_them is not None or float(first) <= horizon - PACK_AGE)
    )


def _pack(
    connection: sa.Connection, ids: list[int], horizon: float, budget: int
) -> tuple[int, int | None]:
    """Pack the rows of ``ids`` before ``horizon``, at most ``budget`` (in monitor, time
    order); returns how many, and the monitor the budget ran out in (None if it did not)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    table, packed = schema.results, schema.result_chunks
    fields = [
        table.c.ts,
        table.c.ok,
        table.c.status,
        table.c.error,
        table.c.failures,
        *(table.c[name] for name in schema.RESULT_PHASE_COLUMNS),
        table.c.warnings,
        table.c.metrics,
    ]
    rows = connection.execute(
        sa.select(table.c.id, table.c.monitor_id, *fields)
        .where(table.c.monitor_id.in_(ids), table.c.ts < horizon)
        .order_by(table.c.monitor_id, table.c.ts, table.c.id)
        .limit(max(budget, PACK_CHECKS))
    ).all()
    if not rows:
        return 0, None
    fresh: dict[int, list[Check]] = defaultdict(list)
    for row in rows:
        fresh[int(row[1])].append(codec.check_from_row(row[2:]))
    older = _overlapping(connection, ids, horizon)
    if older:
        connection.execute(
            packed.delete().where(
                packed.c.monitor_id == sa.bindparam("m"), packed.c.first_ts == sa.bindparam("f")
            ),
            [{"m": monitor_id, "f": first_ts} for monitor_id, first_ts, _ in older],
        )
    merged: dict[int, list[Check]] = defaultdict(list)
    for monitor_id, _, data in older:  # in time order, and before the rows at equal times
        merged[monitor_id].extend(chunks.unpack(bytes(data)))
    chunk_rows: list[dict[str, Any]] = []
    for monitor_id, checks in fresh.items():
        everything = merged[monitor_id] + checks
        everything.sort(key=lambda check: check.ts)  # stable: written order at equal times
        chunk_rows.extend(chunk_row(monitor_id, part) for part in split(everything))
    for first in range(0, len(chunk_rows), 2000):
        connection.execute(packed.insert(), chunk_rows[first : first + 2000])
    _delete_rows(connection, [int(row[0]) for row in rows])
    return len(rows), (int(rows[-1][1]) if len(rows) >= max(budget, PACK_CHECKS) else None)


def _delete_rows(connection: sa.Connection, ids: list[int]) -> None:
    """Delete ``results`` rows by id: one array on PostgreSQL (thousands of parameters
    take it longer to parse and plan than to delete), a few thousand at a time on SQLite."""
    table = schema.results
    if connection.dialect.name == "postgresql":
        array = sa.bindparam("ids", ids, type_=postgresql.ARRAY(sa.BigInteger))
        connection.execute(table.delete().where(table.c.id == sa.any_(array)))
        return
    for first in range(0, len(ids), _DELETE_CHUNK):
        connection.execute(table.delete().where(table.c.id.in_(ids[first : first + _DELETE_CHUNK])))


def _overlapping(
    connection: sa.Connection, ids: list[int], horizon: float
) -> list[tuple[int, float, bytes]]:
    """The chunks whose time overlaps that of the rows about to be packed, by monitor and
    time (late results: usually none)."""
    table, packed = schema.results, schema.result_chunks
    bounds = (
        sa.select(
            table.c.monitor_id,
            sa.func.min(table.c.ts).label("low"),
            sa.func.max(table.c.ts).label("high"),
        )
        .where(table.c.monitor_id.in_(ids), table.c.ts < horizon)
        .group_by(table.c.monitor_id)
        .subquery()
    )
    query = (
        sa.select(packed.c.monitor_id, packed.c.first_ts, packed.c.data)
        .join(bounds, bounds.c.monitor_id == packed.c.monitor_id)
        .where(
            packed.c.first_ts <= bounds.c.high,
            packed.c.last_ts >= bounds.c.low,
            packed.c.first_ts >= bounds.c.low - chunks.MAX_SPAN,
        )
        .order_by(packed.c.monitor_id, packed.c.first_ts)
    )
    return [(int(m), float(f), bytes(d)) for m, f, d in connection.execute(query)]


def split(checks: Sequence[Check]) -> list[list[Check]]:
    """Checks in time order as chunks: at most ``MAX_CHECKS`` (unless they share one time)
    and ``chunks.MAX_SPAN`` seconds each, checks of one time always in one chunk."""
    out: list[list[Check]] = []
    current: list[Check] = []
    for check in checks:
        if (
            current
            and check.ts != current[-1].ts
            and (len(current) >= MAX_CHECKS or check.ts - current[0].ts > chunks.MAX_SPAN)
        ):
            out.append(current)
            current = []
        current.append(check)
    if current:
        out.append(current)
    return out


def chunk_row(monitor_id: int, checks: list[Check]) -> dict[str, Any]:
    return {
        "monitor_id": monitor_id,
        "first_ts": checks[0].ts,
        "last_ts": checks[-1].ts,
        "checks": len(checks),
        "failures": sum(not check.ok for check in checks),
        "data": chunks.encode(checks),
    }
