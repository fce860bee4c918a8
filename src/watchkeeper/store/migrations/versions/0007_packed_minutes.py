"""Packed minutes: the 1-minute rollups of checks and of series, one row per monitor and hour.

Revision ID: 0007
Revises: 0006
Create Date: 2027-02-01

``rollup_1m`` and ``sample_1m`` become ``(monitor_id, hour, data)``:
``data`` holds a monitor's minutes of one hour (see ``store/packed_minutes.py``). The rows
kept so far are carried over as they are, every statistic bit for bit, in the blob form that
holds any float (its format byte 3: JSON, raw-deflated), saying how many minutes of their
hour they stand for (all of it, but for the hour the watermark is in). From now on minutes
are packed only where raw results cannot stand in for them (``store/minutes.py``); the hours
rolled up so far are not packed again (``packed_1m_watermark``).

A migration is a frozen snapshot: it never imports ``schema.py``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_ROLLUP_VALUES = [
    f"{phase}_{statistic}"
    for phase in ("total", "dns", "connect", "tls", "ttfb")
    for statistic in ("p50", "p95", "p99", "max")
]
_SAMPLE_VALUES = ["count", "min", "max", "mean", "last"]
_JSON = 3  # the blob format that holds any float
_HOUR = 3600
_BATCH = 2000


def _packed_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("monitor_id", sa.Integer, nullable=False),
        sa.Column("hour", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("monitor_id", "hour", name=f"pk_{name}"),
    )


def _set_aside(name: str, postgres: bool) -> None:
    op.execute(f"ALTER TABLE {name} RENAME TO {name}_old")
    if postgres:
        op.execute(f"ALTER TABLE {name}_old RENAME CONSTRAINT pk_{name} TO pk_{name}_old")


def _meta(bind: sa.Connection, key: str) -> int | None:
    value = bind.execute(sa.text("SELECT value FROM meta WHERE key = :k"), {"k": key}).scalar()
    return None if value is None else int(value)


def _covered(hour: int, mark: int | None) -> int:
    """Minutes of ``hour`` rolled up by the watermark ``mark``."""
    if mark is None or hour + _HOUR <= mark:
        return 60
    return max(0, (mark - hour) // 60)


def _blob(value: object) -> bytes:
    text = json.dumps(value, separators=(",", ":"))  # repr of each float: exact
    return bytes([_JSON]) + zlib.compress(text.encode(), 9, -15)


def _by_hour(rows: Iterator[Sequence[Any]], time_at: int) -> Iterator[tuple[int, int, list[Any]]]:
    """Rows ordered by monitor and time, as ``(monitor_id, hour, rows of that hour)``."""
    key: tuple[int, int] | None = None
    group: list[Any] = []
    for row in rows:
        here = (int(row[0]), int(row[time_at]) // _HOUR * _HOUR)
        if here != key:
            if key is not None:
                yield key[0], key[1], group
            key, group = here, []
        group.append(row)
    if key is not None:
        yield key[0], key[1], group


def _insert(bind: sa.Connection, name: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        table = sa.table(name, sa.column("monitor_id"), sa.column("hour"), sa.column("data"))
        bind.execute(table.insert(), rows)
        rows.clear()


def _carry_checks(bind: sa.Connection) -> None:
    mark = _meta(bind, "rollup_1m_watermark")
    columns = ", ".join(["monitor_id", "bucket", "checks", "failures", *_ROLLUP_VALUES])
    rows = bind.execute(
        sa.text(f"SELECT {columns} FROM rollup_1m_old ORDER BY monitor_id, bucket"),
        execution_options={"yield_per": 10_000},
    )
    batch: list[dict[str, Any]] = []
    for monitor_id, hour, group in _by_hour(iter(rows), 1):
        minutes = [
            [(int(row[1]) - hour) // 60, int(row[2]), int(row[3]), *(_float(v) for v in row[4:])]
            for row in group
        ]
        data = _blob({"covered": _covered(hour, mark), "minutes": minutes})
        batch.append({"monitor_id": monitor_id, "hour": hour, "data": data})
        if len(batch) >= _BATCH:
            _insert(bind, "rollup_1m", batch)
    _insert(bind, "rollup_1m", batch)


def _carry_series(bind: sa.Connection) -> None:
    mark = _meta(bind, "samples_1m_watermark")
    columns = ", ".join(["monitor_id", "bucket", "name", *_SAMPLE_VALUES])
    rows = bind.execute(
        sa.text(f"SELECT {columns} FROM sample_1m_old ORDER BY monitor_id, bucket, name"),
        execution_options={"yield_per": 10_000},
    )
    batch: list[dict[str, Any]] = []
    for monitor_id, hour, group in _by_hour(iter(rows), 1):
        series: dict[str, list[list[Any]]] = {}
        for _, bucket, name, count, *values in group:
            series.setdefault(str(name), []).append(
                [(int(bucket) - hour) // 60, int(count), *(float(v) for v in values)]
            )
        data = _blob({"covered": _covered(hour, mark), "series": series})
        batch.append({"monitor_id": monitor_id, "hour": hour, "data": data})
        if len(batch) >= _BATCH:
            _insert(bind, "sample_1m", batch)
    _insert(bind, "sample_1m", batch)


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.drop_index("ix_sample_1m_monitor_id_bucket", table_name="sample_1m")
    for name in ("rollup_1m", "sample_1m"):
        _set_aside(name, postgres)
        _packed_table(name)
    _carry_checks(bind)
    _carry_series(bind)
    op.drop_table("rollup_1m_old")
    op.drop_table("sample_1m_old")
    hours = _meta(bind, "rollup_1h_watermark")
    if hours is not None:
        bind.execute(
            sa.text("INSERT INTO meta (key, value) VALUES ('packed_1m_watermark', :v)"),
            {"v": str(hours)},
        )


def downgrade() -> None:
    """Back to a row per minute, from the rows carried over; refused once minutes were
    packed from raw results (only the newer Watchkeeper can unpack them). Minutes that were
    read from raw results are rolled up again by the older Watchkeeper: both watermarks go
    back to the first raw result after the rows kept."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for name in ("rollup_1m", "sample_1m"):
        kinds = bind.execute(sa.text(f"SELECT data FROM {name}")).scalars()
        if any(bytes(data)[0] != _JSON for data in kinds):
            raise RuntimeError("minutes are packed from raw results: a downgrade would lose them")
    for name in ("rollup_1m", "sample_1m"):
        _set_aside(name, postgres)
    op.create_table(
        "rollup_1m",
        sa.Column(
            "monitor_id",
            sa.Integer,
            sa.ForeignKey("monitors.id", name="fk_rollup_1m_monitor_id_monitors"),
            nullable=False,
        ),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("checks", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Double, nullable=True) for name in _ROLLUP_VALUES),
        sa.PrimaryKeyConstraint("monitor_id", "bucket", name="pk_rollup_1m"),
    )
    op.create_table(
        "sample_1m",
        sa.Column("monitor_id", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        *(
            sa.Column(name, sa.Integer if name == "count" else sa.Double, nullable=False)
            for name in _SAMPLE_VALUES
        ),
        sa.PrimaryKeyConstraint("monitor_id", "name", "bucket", name="pk_sample_1m"),
    )
    op.create_index("ix_sample_1m_monitor_id_bucket", "sample_1m", ["monitor_id", "bucket"])
    checks = sa.table(
        "rollup_1m",
        *(sa.column(c) for c in ["monitor_id", "bucket", "checks", "failures", *_ROLLUP_VALUES]),
    )
    series = sa.table(
        "sample_1m", *(sa.column(c) for c in ["monitor_id", "name", "bucket", *_SAMPLE_VALUES])
    )
    for monitor_id, hour, data in bind.execute(sa.text("SELECT * FROM rollup_1m_old")):
        found = json.loads(zlib.decompress(bytes(data)[1:], -15))
        rows = [
            dict(
                zip(
                    ["bucket", "checks", "failures", *_ROLLUP_VALUES],
                    [hour + 60 * minute[0], *minute[1:]],
                    strict=True,
                ),
                monitor_id=monitor_id,
            )
            for minute in found["minutes"]
        ]
        if rows:
            bind.execute(checks.insert(), rows)
    for monitor_id, hour, data in bind.execute(sa.text("SELECT * FROM sample_1m_old")):
        found = json.loads(zlib.decompress(bytes(data)[1:], -15))
        rows = [
            dict(
                zip(["bucket", *_SAMPLE_VALUES], [hour + 60 * minute[0], *minute[1:]], strict=True),
                monitor_id=monitor_id,
                name=name,
            )
            for name, minutes in found["series"].items()
            for minute in minutes
        ]
        if rows:
            bind.execute(series.insert(), rows)
    op.drop_table("rollup_1m_old")
    op.drop_table("sample_1m_old")
    first = bind.execute(
        sa.text(
            "SELECT min(t) FROM (SELECT min(ts) AS t FROM results "
            "UNION ALL SELECT min(first_ts) FROM result_chunks) AS raw"
        )
    ).scalar()
    for key in ("rollup_1m_watermark", "samples_1m_watermark"):
        mark = _meta(bind, key)
        if first is not None and mark is not None and float(first) < mark:
            bind.execute(
                sa.text("UPDATE meta SET value = :v WHERE key = :k"),
                {"v": str(int(float(first) // 60 * 60)), "k": key},
            )
    bind.execute(sa.text("DELETE FROM meta WHERE key IN ('packed_1m_watermark', 'minutes_floor')"))
