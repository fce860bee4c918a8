"""The 1-minute tier: each minute's check statistics and series statistics of a monitor.

A minute's rollup is a function of its raw results, and for a monitor checked every 30 s
the raw results hold no more than it does: so the minutes are not kept twice. They are
stored packed, one row per monitor and hour (:mod:`watchkeeper.store.packed_minutes`), only

- for a monitor checked more than ``DENSE`` times in an hour, once the hour is rolled up
  (its raw results would cost more to read than its minutes): :func:`pack_dense`;
- for every other monitor, just before retention deletes the raw results they come from:
  :func:`pack_before_prune`.

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
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import aggregate, packed_minutes, raw, rollups, sample_rollups, schema
from watchkeeper.store.columns import Raw
from watchkeeper.store.database import writing
from watchkeeper.store.ingest import get_meta, set_meta
from watchkeeper.store.packed_minutes import CheckRow, Minute, Rows, SeriesRow
from watchkeeper.store.rollups import Resolution, watermark

DENSE = 120
"""Checks in an hour beyond which a monitor's minutes are packed as soon as it is rolled up
(more than two a minute)."""

HOUR = 3600
_ID_CHUNK = 500
_PACKED_KEY = "packed_1m_watermark"
"""Where the hours whose dense monitors were packed end."""
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
    for monitor_id, hour, data in _packed(connection, tier, ids, start, stop):
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


def _packed(
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


# -- packing --------------------------------------------------------------------------------
def pack_dense(engine: sa.Engine) -> int:
    """Pack the minutes of each monitor-hour rolled up since the last call that had more
    than ``DENSE`` checks; returns rows written."""
    with engine.connect() as connection:
        hours = rollups.HOUR
        table = hours.table
        assert table is not None
        limit = watermark(connection, hours)
        marks = [watermark(connection, tier.minute) for tier in TIERS]
        start = get_meta(connection, _PACKED_KEY)
        if limit is None or None in marks:
            return 0
        limit = min(limit, *(mark for mark in marks if mark is not None))
        first = (
            int(start)
            if start is not None
            else connection.scalar(sa.select(sa.func.min(table.c.bucket)))
        )
    if first is None:
        return 0
    written = 0
    hour = int(first)
    while hour + HOUR <= limit:
        with engine.connect() as connection:
            dense = sorted(
                int(monitor_id)
                for monitor_id in connection.scalars(
                    sa.select(table.c.monitor_id).where(
                        table.c.bucket == hour, table.c.checks > DENSE
                    )
                )
            )
        if dense:
            written += _pack_hours(engine, dense, hour, hour + HOUR, dict.fromkeys(TIERS, limit))
        hour += HOUR
        with writing(engine).begin() as connection:
            set_meta(connection, _PACKED_KEY, str(hour))
    return written


Watermarks = dict[Tier, int | None]


def watermarks(connection: sa.Connection) -> Watermarks:
    """Where each tier's rolled-up minutes end."""
    return {tier: watermark(connection, tier.minute) for tier in TIERS}


def pack_before_prune(
    engine: sa.Engine,
    ids: list[int],
    earliest: float,
    since: float,
    until: float,
    marks: Watermarks,
) -> int:
    """Pack the minutes of ``ids`` (whose first raw result is at ``earliest`` or later) in
    the hours that overlap ``[since, until)``, whole (as far as each tier has rolled them
    up), where not packed yet: before retention deletes the raw results older than
    ``until`` (minutes older than ``since`` go too). The hour that ``until`` falls in is
    packed whole while all its raw results are there. Returns rows written."""
    limits = {tier: mark for tier, mark in marks.items() if mark is not None}
    if not limits:
        return 0
    hour = math.floor(max(earliest, since) / HOUR) * HOUR
    end = min(math.ceil(until / HOUR) * HOUR, math.ceil(max(limits.values()) / HOUR) * HOUR)
    written = 0
    while hour < end:
        with engine.connect() as connection:
            found = raw.earliest(connection, ids, hour)  # no raw result before it
        if found is None or found >= end:
            break
        hour = max(hour, math.floor(found / HOUR) * HOUR)
        written += _pack_hours(engine, ids, hour, hour + HOUR, limits)
        hour += HOUR
        time.sleep(0)
    return written


def _pack_hours(
    engine: sa.Engine, ids: list[int], hour: int, end: int, limits: Mapping[Tier, float]
) -> int:
    """Pack the hour of ``ids`` starting at ``hour``, in each tier up to its limit, where
    its packed row does not stand for that much of it yet."""
    written = 0
    for first in range(0, len(ids), _ID_CHUNK):
        group = ids[first : first + _ID_CHUNK]
        with engine.connect() as connection:
            work = []
            for tier, limit in limits.items():
                stop = min(end, int(limit) // 60 * 60)
                if stop <= hour:
                    continue
                kept = {
                    monitor_id: data
                    for monitor_id, _, data in _packed(connection, tier, group, hour, hour + 1)
                }
                covered = {m: packed_minutes.covered(data) for m, data in kept.items()}
                wanted = (stop - hour) // 60
                due = [m for m in group if covered.get(m, 0) < wanted]
                if due:
                    work.append((tier, stop, kept, covered, due))
            if not work:
                continue
            high = max(stop for _, stop, _, _, _ in work)
            everyone = sorted({m for *_, due in work for m in due})
            series = any(tier is SERIES for tier, *_ in work)
            checks = raw.read(connection, everyone, hour, high, metrics=series)
        rows = []
        for tier, stop, kept, covered, due in work:
            rows.extend(_rows(tier, checks, hour, stop, kept, covered, due))
        if rows:
            with writing(engine).begin() as connection:
                for tier in TIERS:
                    mine = [row for t, row in rows if t is tier]
                    had = {m for t, _, known, _, _ in work if t is tier for m in known}
                    _replace(connection, tier.table, mine, had)
            written += len(rows)
        time.sleep(0)
    return written


def _rows(
    tier: Tier,
    checks: Raw,
    hour: int,
    stop: int,
    kept: dict[int, bytes],
    covered: dict[int, int],
    due: list[int],
) -> list[tuple[Tier, dict[str, Any]]]:
    """The packed rows of ``due`` for ``[hour, stop)``: what their row holds, and from
    raw results the minutes it does not stand for."""
    wanted = set(due)
    per_monitor: dict[int, list[int]] = defaultdict(list)
    for index, monitor_id in enumerate(checks.monitor_id):
        if monitor_id in wanted:
            ts = checks.ts[index]
            if hour + 60 * covered.get(monitor_id, 0) <= ts < stop:
                per_monitor[monitor_id].append(index)
    out = []
    minutes = (stop - hour) // 60
    for monitor_id in due:
        positions = per_monitor.get(monitor_id, [])
        if not positions and monitor_id not in kept:
            continue  # nothing to keep
        if tier is CHECKS:
            data = _merge_checks(kept.get(monitor_id), checks, positions, hour, minutes)
        else:
            data = _merge_series(kept.get(monitor_id), checks, positions, hour, minutes)
        out.append((tier, {"monitor_id": monitor_id, "hour": hour, "data": data}))
    return out


def _merge_checks(
    old: bytes | None, checks: Raw, positions: list[int], hour: int, minutes: int
) -> bytes:
    fresh = _check_minutes(checks, positions, hour)
    if old is None:
        return packed_minutes.pack_checks(fresh, minutes)
    _, before = packed_minutes.unpack_minutes(old)
    if isinstance(before, list):
        return packed_minutes.pack_checks([*before, *fresh], minutes)
    rows = [
        (0, hour + 60 * int(offset), int(n), int(f), *values)
        for offset, n, f, *values in before.rows
    ]
    rows += [minute.row(0, hour) for minute in fresh]
    return packed_minutes.pack_check_rows(rows, hour, minutes)


def _check_minutes(checks: Raw, positions: list[int], hour: int) -> list[Minute]:
    groups: dict[int, list[int]] = defaultdict(list)
    for index in positions:
        groups[int((checks.ts[index] - hour) // 60)].append(index)
    out = []
    rolled = len(schema.ROLLUP_PHASES)
    for offset in sorted(groups):
        members = groups[offset]
        phases = [
            [v for index in members if (v := checks.phases[phase][index]) is not None]
            for phase in range(rolled)
        ]
        failures = sum(1 for index in members if not checks.ok[index])
        out.append(Minute.of(offset, len(members), failures, phases))
    return out


def _merge_series(
    old: bytes | None, checks: Raw, positions: list[int], hour: int, minutes: int
) -> bytes:
    fresh: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for index in positions:
        offset = int((checks.ts[index] - hour) // 60)
        for name, value in (checks.metrics or [])[index].items():
            fresh[name][offset].append(value)
    if old is None:
        return packed_minutes.pack_series(
            {name: sorted(found.items()) for name, found in fresh.items()}, minutes
        )
    _, before = packed_minutes.unpack_series(old, hour)
    merged: dict[str, list[SeriesRow]] = defaultdict(list)
    for name, rows in before.items():
        merged[name].extend(rows)
    for name, found in fresh.items():
        merged[name].extend(
            (hour + 60 * offset, len(values), *packed_minutes.describe(values))
            for offset, values in sorted(found.items())
        )
    return packed_minutes.pack_series_rows(merged, hour, minutes)


def _replace(
    connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], kept: set[int]
) -> None:
    """Write packed ``rows``, in place of those of the monitors ``kept`` had one."""
    if not rows:
        return
    stale = [
        {"m": row["monitor_id"], "h": row["hour"]} for row in rows if row["monitor_id"] in kept
    ]
    if stale:
        connection.execute(
            table.delete().where(
                table.c.monitor_id == sa.bindparam("m"), table.c.hour == sa.bindparam("h")
            ),
            stale,
        )
    for first in range(0, len(rows), 2000):
        connection.execute(table.insert(), rows[first : first + 2000])


# -- retention ------------------------------------------------------------------------------
def set_floor(connection: sa.Connection, cutoff: float) -> None:
    """Minutes before ``cutoff`` are past their retention: never read again (their packed
    rows go once their whole hour is)."""
    floor = get_meta(connection, _FLOOR_KEY)
    if floor is None or float(floor) < cutoff:
        set_meta(connection, _FLOOR_KEY, repr(float(cutoff)))


__all__ = ["CHECKS", "SERIES", "TIERS", "CheckRow", "Rows", "SeriesRow"]
