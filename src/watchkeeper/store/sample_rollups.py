"""1-minute and 1-hour rollups of samples (count, min, max, mean, last per name and bucket).

Same rules as the result rollups (:mod:`watchkeeper.store.rollups`): a bucket is rolled up
once it closed ``grace`` seconds ago, from a watermark kept in ``meta``, chunk by chunk, each
chunk replaced (delete + insert) and the watermark moved in one transaction, so a second
run or a run after a crash writes the same rows.
"""

from __future__ import annotations

import math
import time
from itertools import groupby

import sqlalchemy as sa

from watchkeeper.store import schema
from watchkeeper.store.database import writing
from watchkeeper.store.ingest import set_meta
from watchkeeper.store.rollups import Resolution, watermark

MINUTE = Resolution("1m", 60, schema.sample_1m, 15 * 60, of="samples")
HOUR = Resolution("1h", 3600, schema.sample_1h, 3600, of="samples")
RESOLUTIONS = (MINUTE, HOUR)

RollupRow = tuple[int, str, int, int, float, float, float, float]


def roll_up(engine: sa.Engine, now: float, grace: float) -> int:
    return sum(_roll_up(engine, resolution, now, grace) for resolution in RESOLUTIONS)


def _roll_up(engine: sa.Engine, resolution: Resolution, now: float, grace: float) -> int:
    width = resolution.width
    closed_until = math.floor((now - grace) / width) * width
    table = schema.samples
    with engine.connect() as connection:
        start = watermark(connection, resolution)
        if start is None:
            first = connection.scalar(sa.select(sa.func.min(table.c.ts)))
            if first is None:
                return 0
            start = math.floor(float(first) / width) * width
    written = 0
    while start < closed_until:
        end = min(start + resolution.chunk, closed_until)
        with engine.connect() as connection:
            rows = buckets(_raw(connection, start, end), width)
            if not rows:  # a gap: jump to the bucket of the next sample
                following = connection.scalar(
                    sa.select(sa.func.min(table.c.ts)).where(table.c.ts >= end)
                )
                if following is None:
                    end = closed_until
                else:
                    end = min(max(end, math.floor(float(following) / width) * width), closed_until)
        with writing(engine).begin() as connection:
            target = resolution.table
            connection.execute(
                target.delete().where(target.c.bucket >= start, target.c.bucket < end)
            )
            names = [column.name for column in target.columns]
            for first in range(0, len(rows), 2000):
                connection.execute(
                    target.insert(),
                    [dict(zip(names, row, strict=True)) for row in rows[first : first + 2000]],
                )
                time.sleep(0)
            set_meta(connection, resolution.watermark_key, str(end))
        written += len(rows)
        start = end
    return written


Sample = tuple[int, str, float, float]


def _raw(connection: sa.Connection, start: float, end: float) -> list[Sample]:
    table = schema.samples
    query = (
        sa.select(table.c.monitor_id, table.c.name, table.c.ts, table.c.value)
        .where(table.c.ts >= start, table.c.ts < end)
        .order_by(table.c.monitor_id, table.c.name, table.c.ts)
    )
    return [(int(m), str(n), float(t), float(v)) for m, n, t, v in connection.execute(query)]


def buckets(rows: list[Sample], width: int) -> list[RollupRow]:
    """Rollup rows of samples sorted by (monitor, name, time)."""
    out: list[RollupRow] = []
    for (monitor_id, name, bucket), group in groupby(
        rows, key=lambda row: (row[0], row[1], int(row[2] // width) * width)
    ):
        values = [row[3] for row in group]
        out.append(
            (
                monitor_id,
                name,
                bucket,
                len(values),
                min(values),
                max(values),
                math.fsum(values) / len(values),
                values[-1],
            )
        )
    return out
