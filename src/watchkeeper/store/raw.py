"""Raw results as one: the newest ``results`` rows and the older chunks, read together.

Every read of raw results goes through :func:`read` (or :func:`earliest`, :func:`newest`),
which asks both tiers in one statement and returns the checks column by column, oldest first,
checks of equal time in the order they were written (a chunk's before the rows written after
it was packed). A compaction that commits meanwhile can neither hide a check nor show it
twice: one statement sees one snapshot, and a Store reads inside one snapshot anyway.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.store import chunks, schema
from watchkeeper.store.columns import Gather, Raw, empty

_HOT, _COLD = 1, 0  # cold first: at equal times a chunk's checks were written first
_ID_CHUNK = 500


def read(
    connection: sa.Connection,
    ids: Sequence[int],
    since: float | None = None,
    until: float | None = None,
    *,
    texts: bool = False,
    metrics: bool | str = False,
    failed_only: bool = False,
    limit: int | None = None,
    newest: bool = False,
) -> Raw:
    """The checks of monitors ``ids`` in ``[since, until)``; with ``texts`` their error,
    failures and warnings, with ``metrics`` their series (or the one series named). With
    ``limit`` (one monitor only) at most that many: the oldest, or with ``newest`` the
    newest."""
    if limit is not None and len(ids) != 1:
        raise ValueError("a limit applies to one monitor's checks")
    if not ids or (limit is not None and limit <= 0):
        return empty(texts, metrics)
    hot_rows: list[Any] = []
    cold_rows: list[Any] = []
    for row in connection.execute(
        _union(ids, since, until, texts, metrics, failed_only, limit, newest)
    ).all():
        (hot_rows if row[0] == _HOT else cold_rows).append(row)
    hot_rows.sort(key=lambda row: (row[2], row[3], row[1]))
    cold_rows.sort(key=lambda row: (row[2], row[3]))
    rows = Gather(texts, metrics)
    for row in cold_rows:
        rows.add_chunk(int(row[2]), row[-1], since, until, failed_only)
    rows.add_hot(hot_rows)
    raw = rows.build()
    monitors, times = raw.monitor_id, raw.ts
    order = sorted(range(len(raw)), key=lambda i: (monitors[i], times[i]))  # stable
    if limit is not None:
        order = order[-limit:] if newest else order[:limit]
    return raw.take(order)


def earliest(
    connection: sa.Connection, ids: Sequence[int], since: float | None, *, metrics: bool = False
) -> float | None:
    """A time no later than the first check of ``ids`` at or after ``since`` (with
    ``metrics``: the first with series) and with no such check before it, None when there is
    none: exact, unless the first falls inside a chunk (then ``since``)."""
    hot, cold = schema.results, schema.result_chunks
    hot_query = sa.select(sa.func.min(hot.c.ts)).where(hot.c.monitor_id.in_(ids))
    cold_query = sa.select(sa.func.min(cold.c.first_ts)).where(cold.c.monitor_id.in_(ids))
    if since is not None:
        hot_query = hot_query.where(hot.c.ts >= since)
        cold_query = cold_query.where(
            cold.c.last_ts >= since, cold.c.first_ts >= since - chunks.MAX_SPAN
        )
    if metrics:
        hot_query = hot_query.where(hot.c.metrics.is_not(None))
    found = [
        float(value)
        for value in connection.scalars(sa.union_all(hot_query, cold_query))
        if value is not None
    ]
    if since is not None:
        found = [max(value, since) for value in found]
    return min(found) if found else None


def hourly_counts(
    connection: sa.Connection, ids: Sequence[int], since: float
) -> list[tuple[int, int, int, int]]:
    """``(monitor id, hour, checks, failures)`` of the checks of ``ids`` from ``since`` on,
    hours as epoch hours, a few hundred monitors at a time."""
    counts: dict[tuple[int, int], list[int]] = {}
    for first in range(0, len(ids), _ID_CHUNK):
        checks = read(connection, ids[first : first + _ID_CHUNK], since)
        for monitor_id, ts, ok in zip(checks.monitor_id, checks.ts, checks.ok, strict=True):
            tally = counts.setdefault((monitor_id, math.floor(ts / 3600)), [0, 0])
            tally[0] += 1
            tally[1] += not ok
    return [(m, h, n, f) for (m, h), (n, f) in counts.items()]


def newest(connection: sa.Connection) -> dict[int, Raw]:
    """The newest check (with its texts) of every monitor that has one, by monitor id: one
    index probe per monitor in each tier, chunks read only where they hold the newest."""
    hot, cold = schema.results, schema.result_chunks
    latest = (
        sa.select(hot.c.id)
        .where(hot.c.monitor_id == schema.monitors.c.id)
        .order_by(hot.c.ts.desc(), hot.c.id.desc())
        .limit(1)
        .correlate(schema.monitors)
        .scalar_subquery()
    )
    query = sa.select(*_hot_columns(True, False)).select_from(
        schema.monitors.join(hot, hot.c.id == latest)
    )
    found = {}
    for row in connection.execute(query):
        rows = Gather(True, False)
        rows.add_hot([row])
        found[int(row[2])] = rows.build()
    other = cold.alias("other")
    newest_chunk = (
        sa.select(sa.func.max(other.c.first_ts))
        .where(other.c.monitor_id == cold.c.monitor_id)
        .scalar_subquery()
    )
    later = sa.exists().where(hot.c.monitor_id == cold.c.monitor_id, hot.c.ts >= cold.c.last_ts)
    query = sa.select(cold.c.monitor_id, cold.c.data).where(
        cold.c.first_ts == newest_chunk, sa.not_(later)
    )
    for monitor_id, data in connection.execute(query):
        rows = Gather(True, False)
        rows.add_chunk(int(monitor_id), data, None, None, False)
        chunk = rows.build()
        found[int(monitor_id)] = chunk.take([len(chunk) - 1])
    return found


# -- the statement --------------------------------------------------------------------------------
def _hot_columns(texts: bool, metrics: bool | str) -> list[sa.ColumnElement[Any]]:
    table = schema.results
    columns: list[sa.ColumnElement[Any]] = [
        sa.literal_column(str(_HOT)).label("tier"),
        table.c.id.label("seq"),
        table.c.monitor_id,
        table.c.ts,
        table.c.ok,
        table.c.status,
        *(table.c[name] for name in schema.RESULT_PHASE_COLUMNS),
    ]
    if texts:
        columns += [table.c.error, table.c.failures, table.c.warnings]
    if metrics is not False:
        columns.append(table.c.metrics)
    columns.append(sa.cast(sa.null(), sa.LargeBinary).label("data"))
    return columns


def _cold_columns(texts: bool, metrics: bool | str) -> list[sa.ColumnElement[Any]]:
    table = schema.result_chunks
    nothing = sa.null()
    columns: list[sa.ColumnElement[Any]] = [
        sa.literal_column(str(_COLD)).label("tier"),
        sa.cast(nothing, sa.BigInteger).label("seq"),
        table.c.monitor_id,
        table.c.first_ts.label("ts"),
        sa.cast(nothing, sa.Boolean).label("ok"),
        sa.cast(nothing, sa.Integer).label("status"),
        *(sa.cast(nothing, sa.Double).label(name) for name in schema.RESULT_PHASE_COLUMNS),
    ]
    if texts:
        columns += [
            sa.cast(nothing, sa.Text).label(name) for name in ("error", "failures", "warnings")
        ]
    if metrics is not False:
        columns.append(sa.cast(nothing, sa.Text).label("metrics"))
    columns.append(table.c.data)
    return columns


def _union(
    ids: Sequence[int],
    since: float | None,
    until: float | None,
    texts: bool,
    metrics: bool | str,
    failed_only: bool,
    limit: int | None,
    newest: bool,
) -> sa.CompoundSelect[Any]:
    hot, cold = schema.results, schema.result_chunks
    hot_where: list[sa.ColumnElement[bool]] = [
        hot.c.monitor_id == ids[0] if len(ids) == 1 else hot.c.monitor_id.in_(ids)
    ]
    cold_where: list[sa.ColumnElement[bool]] = [
        cold.c.monitor_id == ids[0] if len(ids) == 1 else cold.c.monitor_id.in_(ids)
    ]
    if since is not None:
        hot_where.append(hot.c.ts >= since)
        cold_where += [cold.c.last_ts >= since, cold.c.first_ts >= since - chunks.MAX_SPAN]
    if until is not None:
        hot_where.append(hot.c.ts < until)
        cold_where.append(cold.c.first_ts < until)
    if failed_only:
        hot_where.append(sa.not_(hot.c.ok))
        cold_where.append(cold.c.failures > 0)
    hot_query = sa.select(*_hot_columns(texts, metrics)).where(*hot_where)
    cold_query = sa.select(*_cold_columns(texts, metrics)).where(*cold_where)
    if limit is not None:
        if newest:
            hot_query = hot_query.order_by(hot.c.ts.desc(), hot.c.id.desc())
        else:
            hot_query = hot_query.order_by(hot.c.ts, hot.c.id)
        hot_query = sa.select(*hot_query.limit(limit).subquery().c)
        cold_query = _enough_chunks(cold_query, failed_only, limit, newest)
    return sa.union_all(hot_query, cold_query)


def _enough_chunks(
    query: sa.Select[Any], failed_only: bool, limit: int, newest: bool
) -> sa.Select[Any]:
    """Only the chunks that hold the ``limit`` oldest (newest) checks: those with fewer than
    ``limit`` before them, counting the first one's twice (only it can reach outside the
    window)."""
    table = schema.result_chunks
    weight = table.c.failures if failed_only else table.c.checks
    order = table.c.first_ts.desc() if newest else table.c.first_ts
    counted = query.add_columns(
        (sa.func.sum(weight).over(order_by=order) - weight).label("before"),
        sa.func.first_value(weight).over(order_by=order).label("edge"),
    ).subquery()
    wanted = [column for column in counted.c if column.name not in ("before", "edge")]
    return sa.select(*wanted).where(counted.c.before < limit + counted.c.edge)
