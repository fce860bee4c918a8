"""Retention: delete what is older than each table's horizon, in short transactions.

Monitors are taken a few hundred at a time and their old rows deleted in time slices, found
through each table's ``(monitor_id, time)`` index, so the cost is proportional to what is
deleted (nothing scans a whole table, and a prune with nothing to do is a few dozen
queries at any fleet size). Slices grow or shrink to keep each transaction near
``BATCH_ROWS`` rows, so the writer never waits long, even after a long outage.

Heartbeat pings go at the raw horizon too, except each monitor's newest ``pings.RECENT``:
see ``_prune_pings``.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from watchkeeper.store import pings, schema
from watchkeeper.store.database import writing
from watchkeeper.store.queries import monitor_ids

BATCH_ROWS = 20_000
_ID_CHUNK = 500
_FIRST_SLICE = 3600.0


def prune(engine: sa.Engine, now: float, *, raw: float, minute: float, hour: float) -> int:
    """Delete raw results and pings older than ``raw`` seconds (but see ``_prune_pings``),
    1-minute rollups older than ``minute``, 1-hour rollups and state changes older than
    ``hour``. Returns rows deleted."""
    horizons = (
        (schema.results, schema.results.c.ts, now - raw),
        (schema.rollup_1m, schema.rollup_1m.c.bucket, now - minute),
        (schema.rollup_1h, schema.rollup_1h.c.bucket, now - hour),
        (schema.state_changes, schema.state_changes.c.at, now - hour),
        (schema.samples, schema.samples.c.ts, now - raw),
        (schema.sample_1m, schema.sample_1m.c.bucket, now - minute),
        (schema.sample_1h, schema.sample_1h.c.bucket, now - hour),
    )
    with engine.connect() as connection:
        ids = monitor_ids(connection)
    deleted = 0
    for table, time_column, cutoff in horizons:
        for first in range(0, len(ids), _ID_CHUNK):
            owned = table.c.monitor_id.in_(ids[first : first + _ID_CHUNK])
            deleted += _prune_slices(engine, table, time_column, owned, cutoff)
    for first in range(0, len(ids), _ID_CHUNK):
        deleted += _prune_pings(engine, ids[first : first + _ID_CHUNK], now - raw)
    return deleted


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
) -> int:
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
            count = connection.execute(sa.delete(table).where(owned, time_column < end)).rowcount
        deleted += max(count, 0)
        start = end
        if count > BATCH_ROWS:
            step = max(step / 2, 1.0)
        elif count < BATCH_ROWS // 4:
            step *= 2
        time.sleep(0)  # let the event loop's thread have the interpreter between batches
    return deleted
