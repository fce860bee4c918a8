"""Packing the 1-minute tier (see :mod:`watchkeeper.store.minutes`): a busy monitor's hours
once they are rolled up (:func:`pack_dense`), any monitor's before retention deletes the raw
results they are read from (:func:`pack_before_prune`). A packed row replaces the row of its
hour, if any, with what that row held and, for the minutes it did not stand for, what the
raw results say.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import packed_minutes, raw, rollups, schema
from watchkeeper.store.columns import Raw
from watchkeeper.store.database import writing
from watchkeeper.store.ingest import get_meta, set_meta
from watchkeeper.store.minutes import (
    CHECKS,
    HOUR,
    SERIES,
    TIERS,
    Tier,
    Watermarks,
    packed_rows,
)
from watchkeeper.store.packed_minutes import Minute, SeriesRow
from watchkeeper.store.rollups import watermark

DENSE = 120
"""Checks in an hour beyond which a monitor's minutes are packed as soon as it is rolled up
(more than two a minute)."""

_ID_CHUNK = 500
_PACKED_KEY = "packed_1m_watermark"
"""Where the hours whose dense monitors were packed end."""


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
            # straight to the next hour with a dense monitor: hours without one cost nothing
            # (a store whose history has gaps, or whose monitors are all 30 s ones)
            found = connection.scalar(
                sa.select(sa.func.min(table.c.bucket)).where(
                    table.c.bucket >= hour,
                    table.c.bucket <= limit - HOUR,
                    table.c.checks > DENSE,
                )
            )
            if found is None:
                break
            hour = int(found)
            dense = sorted(
                int(monitor_id)
                for monitor_id in connection.scalars(
                    sa.select(table.c.monitor_id).where(
                        table.c.bucket == hour, table.c.checks > DENSE
                    )
                )
            )
        written += _pack_hours(engine, dense, hour, hour + HOUR, dict.fromkeys(TIERS, limit))
        hour += HOUR
        with writing(engine).begin() as connection:
            set_meta(connection, _PACKED_KEY, str(hour))
    done = hour + max(0, (int(limit) - hour) // HOUR) * HOUR  # every whole hour up to limit
    if done != hour or start is None or int(start) != done:
        with writing(engine).begin() as connection:
            set_meta(connection, _PACKED_KEY, str(done))
    return written


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
                    for monitor_id, _, data in packed_rows(connection, tier, group, hour, hour + 1)
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
