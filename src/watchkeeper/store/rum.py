"""Real-user monitoring rows: the minute tallies the collector writes, their hourly rollup,
and the worst samples. Every function takes the caller's connection and transaction, except
``roll_up``, which makes its own.

Reads of a long window (over ``HOURS_FROM``) take whole hours from ``rum_hours`` up to the
rollup's watermark and minutes after it; shorter ones read minutes only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.rum.histogram import decode, encode, merge
from watchkeeper.rum.rows import Sample, Tally
from watchkeeper.store import schema
from watchkeeper.store.database import writing
from watchkeeper.store.ingest import dialect_insert, get_meta, set_meta

_MIN = schema.rum_minutes
_HOUR = schema.rum_hours
_S = schema.rum_samples
WATERMARK = "rum.rolled_until"
"""Meta key: minutes before this time are rolled up into ``rum_hours``."""
HOURS_FROM = 6 * 3600.0
"""Windows longer than this are read from the hourly rows (where rolled up)."""
ROLL_HOURS = 48
"""Hours one ``roll_up`` call rolls at most (a store catching up goes on at the next)."""
WORST_KEPT = 10
"""Samples kept per (page group, device, metric, hour)."""


def _tally_values(tally: Tally) -> dict[str, Any]:
    return {
        "at": tally.at,
        "page": tally.page,
        "device": tally.device,
        "metric": tally.metric,
        "samples": tally.samples,
        "good": tally.good,
        "needs_improvement": tally.needs_improvement,
        "poor": tally.poor,
        "histogram": encode(tally.counts),
    }


def write(connection: sa.Connection, tallies: Sequence[Tally], samples: Sequence[Sample]) -> None:
    """Append minute tallies; keep new worst samples (a sample seen again — its metric id —
    takes the newer value), then trim each touched hour to its ``WORST_KEPT`` worst."""
    if tallies:
        connection.execute(sa.insert(_MIN), [_tally_values(t) for t in tallies])
    if not samples:
        return
    rows = [
        {
            "id": s.id,
            "at": s.at,
            "value": s.value,
            "page": s.page,
            "device": s.device,
            "metric": s.metric,
            "rating": s.rating,
            "path": s.path,
            "navigation": s.navigation,
            "attribution": (
                json.dumps(dict(s.attribution), separators=(",", ":")) if s.attribution else None
            ),
        }
        for s in samples
    ]
    statement = dialect_insert(connection, _S)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["id"],
            set_={key: statement.excluded[key] for key in rows[0] if key != "id"},
        ),
        rows,
    )
    touched = {(s.page, s.device, s.metric, math.floor(s.at / 3600) * 3600) for s in samples}
    for page, device, metric, hour in touched:
        _trim(connection, page, device, metric, float(hour))


def _trim(connection: sa.Connection, page: str, device: str, metric: str, hour: float) -> None:
    same = sa.and_(
        _S.c.page == page,
        _S.c.device == device,
        _S.c.metric == metric,
        _S.c.at >= hour,
        _S.c.at < hour + 3600,
    )
    kth = (
        sa.select(_S.c.value)
        .where(same)
        .order_by(_S.c.value.desc())
        .offset(WORST_KEPT - 1)
        .limit(1)
        .scalar_subquery()
    )
    connection.execute(sa.delete(_S).where(same, _S.c.value < kth))


def _filters(
    table: sa.Table, page: str | None, device: str | None, metric: str | None
) -> list[sa.ColumnElement[bool]]:
    found = []
    if page is not None:
        found.append(table.c.page == page)
    if device is not None:
        found.append(table.c.device == device)
    if metric is not None:
        found.append(table.c.metric == metric)
    return found


def _read(
    connection: sa.Connection,
    table: sa.Table,
    since: float,
    until: float,
    filters: list[sa.ColumnElement[bool]],
) -> list[Tally]:
    rows = connection.execute(
        sa.select(
            table.c.at,
            table.c.page,
            table.c.device,
            table.c.metric,
            table.c.samples,
            table.c.good,
            table.c.needs_improvement,
            table.c.poor,
            table.c.histogram,
        ).where(table.c.at >= since, table.c.at < until, *filters)
    ).all()
    return [
        Tally(
            float(row.at),
            row.page,
            row.device,
            row.metric,
            int(row.samples),
            int(row.good),
            int(row.needs_improvement),
            int(row.poor),
            decode(row.histogram),
        )
        for row in rows
    ]


def tallies(
    connection: sa.Connection,
    since: float,
    until: float,
    *,
    page: str | None = None,
    device: str | None = None,
    metric: str | None = None,
) -> list[Tally]:
    """The tallies of ``[since, until)`` matching the filters: minutes, or for a window over
    ``HOURS_FROM`` the rolled-up hours (from the hour ``since`` falls in) and the minutes
    after them."""
    if until - since <= HOURS_FROM:
        return _read(connection, _MIN, since, until, _filters(_MIN, page, device, metric))
    mark = get_meta(connection, WATERMARK)
    rolled = float(mark) if mark is not None else since
    hours: list[Tally] = []
    if rolled > since:
        start = math.floor(since / 3600) * 3600
        hours = _read(
            connection, _HOUR, start, min(until, rolled), _filters(_HOUR, page, device, metric)
        )
    minutes = _read(
        connection, _MIN, max(since, rolled), until, _filters(_MIN, page, device, metric)
    )
    return hours + minutes


def worst(
    connection: sa.Connection,
    since: float,
    until: float,
    *,
    page: str | None = None,
    device: str | None = None,
    metric: str | None = None,
    limit: int = 20,
) -> list[Sample]:
    """The worst samples kept in ``[since, until)`` matching the filters, the worst first."""
    rows = connection.execute(
        sa.select(_S)
        .where(_S.c.at >= since, _S.c.at < until, *_filters(_S, page, device, metric))
        .order_by(_S.c.value.desc(), _S.c.id)
        .limit(limit)
    ).all()
    return [
        Sample(
            id=row.id,
            at=float(row.at),
            page=row.page,
            device=row.device,
            metric=row.metric,
            value=float(row.value),
            rating=row.rating,
            path=row.path,
            navigation=row.navigation,
            attribution=_attribution(row.attribution),
        )
        for row in rows
    ]


def _attribution(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def roll_up(engine: sa.Engine, now: float, grace: float) -> int:
    """Roll the minutes of every hour that ended ``grace`` seconds before ``now`` into
    ``rum_hours`` (one row per key and hour), from the watermark on, at most ``ROLL_HOURS``
    hours a call; returns the rows written."""
    end = float(math.floor((now - grace) / 3600) * 3600)
    with engine.connect() as connection:
        mark = get_meta(connection, WATERMARK)
        if mark is None:
            first = connection.scalar(sa.select(sa.func.min(_MIN.c.at)))
            if first is None:
                return 0
            start = float(math.floor(float(first) / 3600) * 3600)
        else:
            start = float(mark)
    if start >= end:
        return 0
    stop = min(end, start + ROLL_HOURS * 3600)
    with writing(engine).begin() as connection:
        minutes = _read(connection, _MIN, start, stop, [])
        sums: dict[tuple[float, str, str, str], list[Any]] = {}
        for tally in minutes:
            key = (math.floor(tally.at / 3600) * 3600.0, tally.page, tally.device, tally.metric)
            total = sums.get(key)
            if total is None:
                total = sums[key] = [0, 0, 0, 0, {}]
            total[0] += tally.samples
            total[1] += tally.good
            total[2] += tally.needs_improvement
            total[3] += tally.poor
            merge(total[4], tally.counts)
        rows = [
            _tally_values(Tally(at, page, device, metric, n, good, middle, poor, counts))
            for (at, page, device, metric), (n, good, middle, poor, counts) in sorted(sums.items())
        ]
        if rows:
            connection.execute(sa.insert(_HOUR), rows)
        set_meta(connection, WATERMARK, repr(float(stop)))
    return len(rows)


def prune(connection: sa.Connection, *, raw_before: float, hour_before: float) -> int:
    """Delete minutes and samples before ``raw_before``, hours before ``hour_before``."""
    deleted = 0
    for table, before in ((_MIN, raw_before), (_S, raw_before), (_HOUR, hour_before)):
        deleted += max(connection.execute(sa.delete(table).where(table.c.at < before)).rowcount, 0)
    return deleted
