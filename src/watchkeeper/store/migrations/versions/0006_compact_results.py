"""Compact raw results: series inside the result, older results packed into chunks.

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-15

``results`` is rebuilt with its 8-byte columns first (no alignment padding on PostgreSQL)
and a ``metrics`` column holding the check's series as JSON, built from ``samples`` (every
float written with 17 significant digits, or shortest exact on PostgreSQL, so it reads back
bit for bit). Samples at a monitor and time with several results go one per result, in the
order both were written; samples without a result (only past the raw horizon, after an
interrupted prune) are dropped, as the next prune would. ``samples`` and its two indexes go.
``result_chunks`` starts empty: the store packs the old rows in the background, a slice per
upkeep run.

A migration is a frozen snapshot: it never imports ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PHASES = ("total", "dns", "connect", "tls", "ttfb", "transfer")
_KEPT = "id, monitor_id, ts, ok, status, error, failures"


def _results_table(new: bool) -> None:
    """``results`` of this revision (8-byte columns first), or as revision 0005 had it."""
    identity = sa.Column("id", _BIG_ID, primary_key=True)
    monitor = sa.Column("monitor_id", sa.Integer, nullable=False)
    ts = sa.Column("ts", sa.Double, nullable=False)
    ok = sa.Column("ok", sa.Boolean, nullable=False)
    status = sa.Column("status", sa.Integer, nullable=True)
    texts = [sa.Column(name, sa.Text, nullable=True) for name in ("error", "failures")]
    phases = [sa.Column(f"{p}_ms", sa.Double, nullable=True) for p in _PHASES]
    warnings = sa.Column("warnings", sa.Text, nullable=True)
    if new:
        columns = [identity, ts, *phases, monitor, status, ok, *texts, warnings]
        columns.append(sa.Column("metrics", sa.Text, nullable=True))
    else:
        columns = [identity, monitor, ts, ok, status, *texts, *phases, warnings]
    op.create_table("results", *columns, sa.PrimaryKeyConstraint("id", name="pk_results"))


def _set_old_results_aside(postgres: bool) -> None:
    op.drop_index("ix_results_monitor_id_ts", table_name="results")
    op.execute("ALTER TABLE results RENAME TO results_old")
    if postgres:
        op.execute("ALTER TABLE results_old RENAME CONSTRAINT pk_results TO pk_results_old")
        op.execute("ALTER SEQUENCE results_id_seq RENAME TO results_old_id_seq")


def _finish_results(postgres: bool) -> None:
    if postgres:
        op.execute(
            "SELECT setval(pg_get_serial_sequence('results', 'id'), coalesce(max(id), 1), "
            "max(id) IS NOT NULL) FROM results"
        )
    op.drop_table("results_old")
    op.create_index("ix_results_monitor_id_ts", "results", ["monitor_id", "ts"])


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "result_chunks",
        sa.Column("monitor_id", sa.Integer, nullable=False),
        sa.Column("first_ts", sa.Double, nullable=False),
        sa.Column("last_ts", sa.Double, nullable=False),
        sa.Column("checks", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("monitor_id", "first_ts", name="pk_result_chunks"),
    )
    _set_old_results_aside(postgres)
    _results_table(new=True)
    if postgres:
        op.execute("SET LOCAL extra_float_digits = 3")  # shortest exact text for a float8
        number = (
            "CASE WHEN value = 'Infinity' THEN 'Infinity' WHEN value = '-Infinity' "
            "THEN '-Infinity' WHEN value = 'NaN' THEN 'NaN' ELSE value::text END"
        )
        pairs = f"string_agg(to_json(name)::text || ':' || ({number}), ',')"
        written = "ctid"
    else:
        number = (
            "CASE WHEN value = 9e999 THEN 'Infinity' WHEN value = -9e999 THEN '-Infinity' "
            "ELSE printf('%!.17g', value) END"
        )
        pairs = f"group_concat(json_quote(name) || ':' || ({number}), ',')"
        written = "rowid"
    milliseconds = ", ".join(f"{phase}_ms" for phase in _PHASES)
    op.execute(
        f"""
        WITH numbered AS (
            SELECT monitor_id, ts, name, value, row_number() OVER (
                PARTITION BY monitor_id, ts, name ORDER BY {written}) AS k
            FROM samples
        ), series AS (
            SELECT monitor_id, ts, k, '{{' || {pairs} || '}}' AS metrics
            FROM numbered GROUP BY monitor_id, ts, k
        ), old AS (
            SELECT {_KEPT}, {milliseconds}, warnings, row_number() OVER (
                PARTITION BY monitor_id, ts ORDER BY id) AS k
            FROM results_old
        )
        INSERT INTO results ({_KEPT}, {milliseconds}, warnings, metrics)
        SELECT old.id, old.monitor_id, old.ts, old.ok, old.status, old.error, old.failures,
               {", ".join(f"old.{p}_ms" for p in _PHASES)}, old.warnings, series.metrics
        FROM old LEFT JOIN series
          ON series.monitor_id = old.monitor_id AND series.ts = old.ts AND series.k = old.k
        """
    )
    _finish_results(postgres)
    op.drop_table("samples")


def downgrade() -> None:
    """Back to one row per check and a row per sample; refused once chunks hold results
    (only the newer Watchkeeper can unpack them)."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if bind.execute(sa.text("SELECT count(*) FROM result_chunks")).scalar():
        raise RuntimeError("results are packed in chunks: a downgrade would lose them")
    op.create_table(
        "samples",
        sa.Column("monitor_id", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
    )
    if postgres:
        op.execute(
            "INSERT INTO samples SELECT results.monitor_id, key, results.ts, value::float8 "
            "FROM results, json_each_text(metrics::json) WHERE metrics IS NOT NULL "
            "ORDER BY results.id"
        )
    else:
        op.execute(
            "INSERT INTO samples SELECT results.monitor_id, key, results.ts, value "
            "FROM results, json_each(metrics) WHERE metrics IS NOT NULL ORDER BY results.id"
        )
    op.create_index("ix_samples_monitor_id_name_ts", "samples", ["monitor_id", "name", "ts"])
    op.create_index("ix_samples_monitor_id_ts", "samples", ["monitor_id", "ts"])
    _set_old_results_aside(postgres)
    _results_table(new=False)
    kept = f"{_KEPT}, {', '.join(f'{p}_ms' for p in _PHASES)}, warnings"
    op.execute(f"INSERT INTO results ({kept}) SELECT {kept} FROM results_old")
    _finish_results(postgres)
    op.drop_table("result_chunks")
