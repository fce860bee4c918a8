"""The 1-minute tier: each minute's check statistics and series statistics of a monitor.

A minute's rollup is a function of its raw results, and for a monitor checked every 30 s
the raw results hold no more than it does: so the minutes are not kept twice. They are
stored packed, one row per monitor and hour (:mod:`watchkeeper.store.packed_minutes`), only

- for a monitor checked more than twice a minute in an hour, once the hour is rolled up (its
  raw results would cost more to read than its minutes);
- for every other monitor, just before retention deletes the raw results they come from
  (see :mod:`watchkeeper.store.minute_packing`).

A read gets the minutes of a window from the packed rows where there are some and computes
the others from raw results, with the same code the rollups always used; so it gets the same
rows either way. A packed row says how many minutes of its hour it stands for; the rest of
its hour comes from raw results. Minutes before the floor that retention sets (``prune``)
are never read, from either.

As before, only minutes before each tier's watermark (see :mod:`watchkeeper.store.rollups`)
are the tier's: later ones are the readers' raw tail.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import aggregate, packed_minutes, raw, rollups, sample_rollups, schema
from watchkeeper.store.ingest import get_meta, set_meta
from watchkeeper.store.packed_minutes import CheckRow, SeriesRow
from watchkeeper.store.rollups import Resolution, watermark

HOUR = 3600
_ID_CHUNK = 500
_FLOOR_KEY = "minutes_floor"
"""Where the minutes within retention begin."""


@dataclass(frozen=True, slots=True)
class Tier:
    table: sa.Table
    minute: Resolution
    """The resolution whose watermark says which minutes are rolled up."""


CHECKS = Tier(schema.rollup_1m, rollups.MINUTE)
SERIES = Tier(schema.sample_1m, sample_rollups.MINUTE)
TIERS = (CHECKS, SERIES)


# -- reading --------------------------------------------------------------------------------
def check_rows(
    connection: sa.Connection,
    ids: Sequence[int],
    first: float,
    end: float,
    limit: int | None = None,
) -> list[CheckRow]:
    """The minute rollup rows ``(monitor_id, bucket, checks, failures, statistics...)`` of
    ``ids`` whose bucket starts in ``[first, end)``, by monitor and time; with ``limit``
    (one monitor) at most that many, the oldest."""
    out: list[CheckRow] = []
    for start, stop in _windows(connection, CHECKS, first, end, limit):
        found = _read(connection, CHECKS, ids, start, stop, None)
        out.extend(row for monitor_id in sorted(found) for row in found[monitor_id])
        if limit is not None and len(out) >= limit:
            return out[:limit]
    return out


def series_rows(
    connection: sa.Connection,
    monitor_id: int,
    name: str,
    first: float,
    end: float,
    limit: int | None = None,
) -> list[SeriesRow]:
    """The minute rollup rows ``(bucket, count, min, max, mean, last)`` of series ``name`` of
    a monitor whose bucket starts in ``[first, end)``, oldest first, at most ``limit``."""
    out: list[SeriesRow] = []
    for start, stop in _windows(connection, SERIES, first, end, limit):
        out.extend(_read(connection, SERIES, [monitor_id], start, stop, name).get(monitor_id, []))
        if limit is not None and len(out) >= limit:
            return out[:limit]
    return out


def bucket_after(at: float, *, inclusive: bool = False) -> int:
    """The first minute that starts after ``at`` (or at it, when ``inclusive``), exactly."""
    bucket = math.floor(at / 60) * 60
    while bucket > at:  # in case the division rounded up
        bucket -= 60
    while bucket < at or (bucket == at and not inclusive):
        bucket += 60
    return bucket


def _windows(
    connection: sa.Connection, tier: Tier, first: float, end: float, limit: int | None
) -> list[tuple[int, int]]:
    """``[first, end)`` as whole minutes from the floor on and before the watermark (only
    those are rolled up): in one piece, or with a ``limit`` a day at a time (a read can stop
    at the day that has enough)."""
    mark = watermark(connection, tier.minute)
    if mark is None:
        return []
    floor = get_meta(connection, _FLOOR_KEY)
    start = bucket_after(first, inclusive=True)
    if floor is not None:
        start = max(start, bucket_after(float(floor), inclusive=True))
    stop = min(bucket_after(end, inclusive=True), mark)
    if start >= stop:
        return []
    if limit is None:
        return [(start, stop)]
    day = 86400
    return [(at, min(at + day, stop)) for at in range(start, stop, day)]


def _read(
    connection: sa.Connection,
    tier: Tier,
    ids: Sequence[int],
    start: int,
    stop: int,
    name: str | None,
) -> dict[int, list[Any]]:
    """Rows of ``[start, stop)`` (whole minutes) by monitor: packed where packed, the rest
    from raw results."""
    rows: dict[int, list[Any]] = defaultdict(list)
    spans: dict[int, list[tuple[int, int]]] = {monitor_id: [(start, stop)] for monitor_id in ids}
    for monitor_id, hour, data in packed_rows(connection, tier, ids, start, stop):
        covered, found = _unpack(tier, bytes(data), monitor_id, hour, name)
        rows[monitor_id].extend(row for row in found if start <= _bucket(tier, row) < stop)
        spans[monitor_id] = _without(spans[monitor_id], hour, hour + 60 * covered)
    alike: dict[tuple[tuple[int, int], ...], list[int]] = defaultdict(list)
    for monitor_id, missing in spans.items():
        if missing:
            alike[tuple(missing)].append(monitor_id)
    for gaps, monitors in alike.items():
        for low, high in gaps:
            for first in range(0, len(monitors), _ID_CHUNK):
                group = monitors[first : first + _ID_CHUNK]
                for monitor_id, found in _computed(connection, tier, group, low, high, name):
                    rows[monitor_id].extend(found)
    for found in rows.values():
        found.sort(key=lambda row: _bucket(tier, row))
    return rows


def _bucket(tier: Tier, row: Any) -> int:
    return int(row[1] if tier is CHECKS else row[0])


def _without(spans: list[tuple[int, int]], low: int, high: int) -> list[tuple[int, int]]:
    out = []
    for start, stop in spans:
        if start < low:
            out.append((start, min(stop, low)))
        if stop > high:
            out.append((max(start, high), stop))
    return out


def packed_rows(
    connection: sa.Connection, tier: Tier, ids: Sequence[int], start: float, stop: float
) -> list[tuple[int, int, bytes]]:
    table = tier.table
    out: list[tuple[int, int, bytes]] = []
    for first in range(0, len(ids), _ID_CHUNK):
        group = list(ids[first : first + _ID_CHUNK])
        owned = table.c.monitor_id == group[0] if len(group) == 1 else table.c.monitor_id.in_(group)
        query = sa.select(table.c.monitor_id, table.c.hour, table.c.data).where(
            owned, table.c.hour > start - HOUR, table.c.hour < stop
        )
        out.extend((int(m), int(h), bytes(d)) for m, h, d in connection.execute(query))
    return out


def _unpack(
    tier: Tier, data: bytes, monitor_id: int, hour: int, name: str | None
) -> tuple[int, list[Any]]:
    if tier is CHECKS:
        return packed_minutes.unpack_checks(data, monitor_id, hour)
    assert name is not None
    covered, series = packed_minutes.unpack_series(data, hour, name)
    return covered, series.get(name, [])


def _computed(
    connection: sa.Connection,
    tier: Tier,
    ids: list[int],
    start: int,
    stop: int,
    name: str | None,
) -> list[tuple[int, list[Any]]]:
    """Rows of ``[start, stop)`` computed from raw results, by monitor."""
    by_monitor: dict[int, list[Any]] = defaultdict(list)
    if tier is CHECKS:
        matrix = raw.read(connection, ids, start, stop).matrix()
        for computed in aggregate.buckets(matrix, 60):
            by_monitor[int(computed[0])].append(computed)  # type: ignore[arg-type]
    else:
        assert name is not None
        checks = raw.read(connection, ids, start, stop, metrics=name)
        samples = [
            (monitor_id, name, ts, series[name])
            for monitor_id, ts, series in zip(
                checks.monitor_id, checks.ts, checks.metrics or (), strict=True
            )
            if name in series
        ]
        for monitor_id, _, *row in sample_rollups.buckets(samples, 60):
            by_monitor[monitor_id].append(tuple(row))
    return list(by_monitor.items())


Watermarks = dict[Tier, int | None]


def watermarks(connection: sa.Connection) -> Watermarks:
    """Where each tier's rolled-up minutes end."""
    return {tier: watermark(connection, tier.minute) for tier in TIERS}


# -- retention ------------------------------------------------------------------------------
def set_floor(connection: sa.Connection, cutoff: float) -> None:
    """Minutes before ``cutoff`` are past their retention: never read again (their packed
    rows go once their whole hour is)."""
    floor = get_meta(connection, _FLOOR_KEY)
    if floor is None or float(floor) < cutoff:
        set_meta(connection, _FLOOR_KEY, repr(float(cutoff)))
