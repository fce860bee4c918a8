"""Retention: delete what is older than each table's horizon, in short transactions.

Monitors are taken a few hundred at a time and their old rows deleted in time slices, found
through each table's ``(monitor_id, time)`` index, so the cost is proportional to what is
deleted (nothing scans a whole table, and a prune with nothing to do is a few dozen
queries at any fleet size). Slices grow or shrink to keep each transaction near
``BATCH_ROWS`` rows, so the writer never waits long, even after a long outage.

Raw results go at the raw horizon in both tiers, and their series with them: rows, whole
chunks, and the older checks of a chunk that reaches past it (rewritten with the rest). The
1-minute tier first packs what it still reads from them (``minute_packing.pack_before_prune``); its
minutes go at the minute horizon (unread from then on, their packed hours deleted once whole).
Heartbeat pings go at the raw horizon too, except each monitor's newest ``pings.RECENT``:
see ``_prune_pings``. Real-user monitoring's minute tallies and worst samples go at the raw
horizon, its hourly tallies at the hour horizon.
"""

from __future__ import annotations

import math
import time

import sqlalchemy as sa

from watchkeeper.store import chunks, compaction, minute_packing, minutes, pings, rum, schema
from watchkeeper.store import raw as raw_results
from watchkeeper.store.database import writing
from watchkeeper.store.queries import monitor_ids

BATCH_ROWS = 20_000
_ID_CHUNK = 500
_FIRST_SLICE = 3600.0


def prune(engine: sa.Engine, now: float, *, raw: float, minute: float, hour: float) -> int:
    """Delete raw results (and their series) and pings older than ``raw`` seconds (but see
    ``_prune_pings``), 1-minute rollups older than ``minute``, 1-hour rollups, state
    changes and reports older than ``hour``. Returns rows deleted, counting each check of a
    chunk (and a packed hour of minutes as one)."""
    whole_hours = math.floor(now - minute) - minutes.HOUR + 1  # packed hours ending by then
    horizons = (
        (schema.rollup_1m, schema.rollup_1m.c.hour, whole_hours),
        (schema.rollup_1h, schema.rollup_1h.c.bucket, now - hour),
        (schema.state_changes, schema.state_changes.c.at, now - hour),
        (schema.sample_1m, schema.sample_1m.c.hour, whole_hours),
        (schema.sample_1h, schema.sample_1h.c.bucket, now - hour),
    )
    with engine.connect() as connection:
        ids = monitor_ids(connection)
        marks = minutes.watermarks(connection)
    with writing(engine).begin() as connection:
        minutes.set_floor(connection, now - minute)
    deleted = 0
    for first in range(0, len(ids), _ID_CHUNK):
        group = ids[first : first + _ID_CHUNK]
        deleted += _prune_raw(engine, group, now - raw, now - minute, marks)
    for table, time_column, cutoff in horizons:
        for first in range(0, len(ids), _ID_CHUNK):
            owned = table.c.monitor_id.in_(ids[first : first + _ID_CHUNK])
            deleted += _prune_slices(engine, table, time_column, owned, cutoff)
    for first in range(0, len(ids), _ID_CHUNK):
        deleted += _prune_pings(engine, ids[first : first + _ID_CHUNK], now - raw)
    # reports come one per run of the few kinds that make them (a daily audit): one delete
    with writing(engine).begin() as connection:
        gone = connection.execute(
            sa.delete(schema.reports).where(schema.reports.c.ts < now - hour)
        ).rowcount
    # RUM keeps a few hundred tallies a minute whatever the traffic: one delete per table
    with writing(engine).begin() as connection:
        rum_gone = rum.prune(connection, raw_before=now - raw, hour_before=now - hour)
    return deleted + max(gone, 0) + rum_gone


def _prune_raw(
    engine: sa.Engine,
    ids: list[int],
    cutoff: float,
    minute_cutoff: float,
    marks: minutes.Watermarks,
) -> int:
    """Delete the raw results of ``ids`` older than ``cutoff``, rows and chunks, once the
    minutes still read from them are packed."""
    with engine.connect() as connection:
        earliest = raw_results.earliest(connection, ids, None)
    if earliest is None or earliest >= cutoff:  # the usual case, in one query
        return 0
    minute_packing.pack_before_prune(engine, ids, earliest, minute_cutoff, cutoff, marks)
    table = schema.results
    owned = table.c.monitor_id.in_(ids)
    deleted = _prune_slices(engine, table, table.c.ts, owned, cutoff)
    return deleted + _prune_chunks(engine, ids, cutoff)


def _prune_chunks(engine: sa.Engine, ids: list[int], cutoff: float) -> int:
    """Delete the checks of ``ids`` older than ``cutoff`` from chunks: whole chunks in time
    slices, and the older part of a chunk that reaches past ``cutoff``."""
    table = schema.result_chunks
    owned = table.c.monitor_id.in_(ids)
    with engine.connect() as connection:
        oldest = connection.scalar(
            sa.select(sa.func.min(table.c.first_ts)).where(owned, table.c.first_ts < cutoff)
        )
        if oldest is None:  # the usual case, in one query
            return 0
        straddling = connection.execute(
            sa.select(table.c.monitor_id, table.c.first_ts, table.c.data).where(
                owned,
                table.c.first_ts < cutoff,
                table.c.last_ts >= cutoff,
                table.c.first_ts >= cutoff - chunks.MAX_SPAN,
            )
        ).all()
    deleted = 0
    if straddling:
        with writing(engine).begin() as connection:
            for monitor_id, first_ts, data in straddling:
                checks = chunks.unpack(bytes(data))
                kept = [check for check in checks if check.ts >= cutoff]
                deleted += len(checks) - len(kept)
                connection.execute(
                    table.delete().where(
                        table.c.monitor_id == monitor_id, table.c.first_ts == first_ts
                    )
                )
                connection.execute(table.insert(), [compaction.chunk_row(int(monitor_id), kept)])
    whole = sa.and_(owned, table.c.last_ts < cutoff)
    return deleted + _prune_slices(engine, table, table.c.first_ts, whole, cutoff, table.c.checks)


def _prune_pings(engine: sa.Engine, ids: list[int], cutoff: float) -> int:
    """Delete the pings of ``ids`` older than ``cutoff``, but never a monitor's newest
    ``pings.RECENT``: a heartbeat's state after a restart is rebuilt from those (the last
    success, from which the next ping is due; the last failure; runs started and not
    finished). A monthly job under a 14-day horizon would otherwise come back from a restart
    as "no ping yet", or a failure reported three weeks ago as fixed. So the newest pings are
    kept whatever their age, and a restart after a prune rebuilds the same state as before."""
    table = schema.pings
    with engine.connect() as connection:
        old = list(
            connection.scalars(
                sa.select(table.c.monitor_id)
                .where(table.c.monitor_id.in_(ids), table.c.ts < cutoff)
                .group_by(table.c.monitor_id)
            )
        )
        floors = {
            monitor_id: pings.newest_ts(connection, monitor_id, pings.RECENT) for monitor_id in old
        }
    deleted = 0
    for monitor_id, floor in floors.items():
        if floor is not None:  # fewer than RECENT pings: all of them are needed
            owned = table.c.monitor_id == monitor_id
            deleted += _prune_slices(engine, table, table.c.ts, owned, min(cutoff, floor))
    return deleted


def _prune_slices(
    engine: sa.Engine,
    table: sa.Table,
    time_column: sa.ColumnElement[float],
    owned: sa.ColumnElement[bool],
    cutoff: float,
    weight: sa.ColumnElement[int] | None = None,
) -> int:
    """Delete the rows ``owned`` older than ``cutoff``, a time slice per transaction; returns
    how many (the sum of ``weight`` when given: checks in chunks)."""
    with engine.connect() as connection:
        oldest = connection.scalar(
            sa.select(sa.func.min(time_column)).where(owned, time_column < cutoff)
        )
    if oldest is None:
        return 0
    deleted = 0
    start, step = float(oldest), _FIRST_SLICE
    while start < cutoff:
        end = min(start + step, cutoff)
        with writing(engine).begin() as connection:
            doomed = sa.and_(owned, time_column < end)
            weighed = None
            if weight is not None:
                weighed = connection.scalar(sa.select(sa.func.sum(weight)).where(doomed))
            count = connection.execute(sa.delete(table).where(doomed)).rowcount
        deleted += max(count, 0) if weight is None else int(weighed or 0)
        start = end
        if count > BATCH_ROWS:
            step = max(step / 2, 1.0)
        elif count < BATCH_ROWS // 4:
            step *= 2
        time.sleep(0)  # let the event loop's thread have the interpreter between batches
    return deleted
