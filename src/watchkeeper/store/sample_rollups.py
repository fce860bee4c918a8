"""1-minute and 1-hour rollups of samples (count, min, max, mean, last per name and bucket).

Same rules as the result rollups (:mod:`watchkeeper.store.rollups`): a bucket is rolled up
once it closed ``grace`` seconds ago, from a watermark kept in ``meta``, chunk by chunk, each
chunk replaced (delete + insert) and the watermark moved in one transaction, so a second
run or a run after a crash writes the same rows. Minutes are only closed here (see
:mod:`watchkeeper.store.minutes`).
"""

from __future__ import annotations

import math
import time
from itertools import groupby

import sqlalchemy as sa

from watchkeeper.store import raw, schema
from watchkeeper.store.database import writing
from watchkeeper.store.ingest import set_meta
from watchkeeper.store.queries import monitor_ids
from watchkeeper.store.rollups import Resolution, close, watermark

MINUTE = Resolution("1m", 60, None, 15 * 60, of="samples")
HOUR = Resolution("1h", 3600, schema.sample_1h, 3600, of="samples")
RESOLUTIONS = (MINUTE, HOUR)

_ID_CHUNK = 500

RollupRow = tuple[int, str, int, int, float, float, float, float]


def roll_up(engine: sa.Engine, now: float, grace: float) -> int:
    return sum(_roll_up(engine, resolution, now, grace) for resolution in RESOLUTIONS)


def _roll_up(engine: sa.Engine, resolution: Resolution, now: float, grace: float) -> int:
    target = resolution.table
    if target is None:
        close(
            engine,
            resolution,
            now,
            grace,
            lambda connection: _earliest(connection, monitor_ids(connection), None),
        )
        return 0
    width = resolution.width
    closed_until = math.floor((now - grace) / width) * width
    with engine.connect() as connection:
        start = watermark(connection, resolution)
        if start is None:
            first = _earliest(connection, monitor_ids(connection), None)
            if first is None:
                return 0
            start = math.floor(first / width) * width
    written = 0
    while start < closed_until:
        end = min(start + resolution.chunk, closed_until)
        with engine.connect() as connection:
            ids = monitor_ids(connection)
            rows = buckets(_raw(connection, ids, start, end), width)
            if not rows:  # a gap: jump to the bucket of the next sample
                following = _earliest(connection, ids, end)
                if following is None:
                    end = closed_until
                else:
                    end = min(max(end, math.floor(following / width) * width), closed_until)
        with writing(engine).begin() as connection:
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


def _earliest(connection: sa.Connection, ids: list[int], since: float | None) -> float | None:
    """No sample of any monitor lies between ``since`` and this time (see ``raw.earliest``)."""
    found = [
        value
        for first in range(0, len(ids), _ID_CHUNK)
        if (value := raw.earliest(connection, ids[first : first + _ID_CHUNK], since, metrics=True))
        is not None
    ]
    return min(found) if found else None


def _raw(connection: sa.Connection, ids: list[int], start: float, end: float) -> list[Sample]:
    """Every sample in ``[start, end)``, by monitor, name and time (written order at equal
    times), a few hundred monitors at a time."""
    out: list[Sample] = []
    for first in range(0, len(ids), _ID_CHUNK):
        checks = raw.read(connection, ids[first : first + _ID_CHUNK], start, end, metrics=True)
        found = [
            (monitor_id, name, ts, value)
            for monitor_id, ts, series in zip(
                checks.monitor_id, checks.ts, checks.metrics or (), strict=True
            )
            for name, value in series.items()
        ]
        found.sort(key=lambda sample: (sample[0], sample[1]))  # stable: time order kept
        out.extend(found)
        time.sleep(0)
    return out


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
