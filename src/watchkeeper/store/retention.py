"""Retention: delete what is older than each table's horizon, a small batch at a time.

Every batch is its own short write transaction, found through the ``(monitor_id, time)``
index of one monitor, so the writer never waits long and no table is scanned whole.
"""

from __future__ import annotations

import sqlalchemy as sa

from watchkeeper.store import schema
from watchkeeper.store.database import writing
from watchkeeper.store.queries import monitor_ids

BATCH_ROWS = 5000


def prune(engine: sa.Engine, now: float, *, raw: float, minute: float, hour: float) -> int:
    """Delete raw results older than ``raw`` seconds, 1-minute rollups older than ``minute``,
    1-hour rollups and state changes older than ``hour``. Returns rows deleted."""
    horizons = (
        (schema.results, "ts", now - raw),
        (schema.rollup_1m, "bucket", now - minute),
        (schema.rollup_1h, "bucket", now - hour),
        (schema.state_changes, "at", now - hour),
    )
    with engine.connect() as connection:
        ids = monitor_ids(connection)
    deleted = 0
    for table, time_name, cutoff in horizons:
        for monitor_id in ids:
            deleted += _prune_monitor(engine, table, table.c[time_name], monitor_id, cutoff)
    return deleted


def _prune_monitor(
    engine: sa.Engine,
    table: sa.Table,
    time_column: sa.ColumnElement[float],
    monitor_id: int,
    cutoff: float,
) -> int:
    owned = table.c.monitor_id == monitor_id
    deleted = 0
    while True:
        with engine.connect() as connection:
            times = connection.scalars(
                sa.select(time_column)
                .where(owned, time_column < cutoff)
                .order_by(time_column)
                .limit(BATCH_ROWS)
            ).all()
        if not times:
            return deleted
        last_batch = len(times) < BATCH_ROWS
        condition = time_column < cutoff if last_batch else time_column <= times[-1]
        with writing(engine).begin() as connection:
            deleted += connection.execute(sa.delete(table).where(owned, condition)).rowcount
        if last_batch:
            return deleted
