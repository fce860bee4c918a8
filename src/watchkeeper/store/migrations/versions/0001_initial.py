"""Initial schema: monitors, raw results, state, rollups, meta.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

A migration is a frozen snapshot: it never imports ``schema.py``.
``results.monitor_id`` has no foreign key on purpose: the check costs half of PostgreSQL's
ingest rate, and the writer resolves (or registers) every monitor id itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ROLLUP_VALUES = [
    f"{phase}_{statistic}"
    for phase in ("total", "dns", "connect", "tls", "ttfb")
    for statistic in ("p50", "p95", "p99", "max")
]
_PHASES_MS = ["total_ms", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms"]


def _monitor_reference(table: str, *, primary_key: bool = False) -> sa.Column[int]:
    return sa.Column(
        "monitor_id",
        sa.Integer,
        sa.ForeignKey("monitors.id", name=f"fk_{table}_monitor_id_monitors"),
        nullable=False,
        primary_key=primary_key,
    )


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_monitors"),
        sa.UniqueConstraint("name", name="uq_monitors_name"),
    )
    op.create_table(
        "results",
        sa.Column("id", _BIG_ID, primary_key=True),
        sa.Column("monitor_id", sa.Integer, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("failures", sa.Text, nullable=True),
        *(sa.Column(name, sa.Double, nullable=True) for name in _PHASES_MS),
        sa.PrimaryKeyConstraint("id", name="pk_results"),
    )
    op.create_index("ix_results_monitor_id_ts", "results", ["monitor_id", "ts"])
    op.create_table(
        "state_changes",
        sa.Column("id", _BIG_ID, primary_key=True),
        _monitor_reference("state_changes"),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("from_state", sa.Text, nullable=False),
        sa.Column("to_state", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_state_changes"),
    )
    op.create_index("ix_state_changes_monitor_id_at", "state_changes", ["monitor_id", "at"])
    op.create_index("ix_state_changes_at", "state_changes", ["at"])
    op.create_table(
        "monitor_state",
        _monitor_reference("monitor_state", primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("since", sa.Double, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("monitor_id", name="pk_monitor_state"),
    )
    for table in ("rollup_1m", "rollup_1h"):
        op.create_table(
            table,
            _monitor_reference(table, primary_key=True),
            sa.Column("bucket", sa.BigInteger, primary_key=True),
            sa.Column("checks", sa.Integer, nullable=False),
            sa.Column("failures", sa.Integer, nullable=False),
            *(sa.Column(name, sa.Double, nullable=True) for name in _ROLLUP_VALUES),
            sa.PrimaryKeyConstraint("monitor_id", "bucket", name=f"pk_{table}"),
        )
    op.create_table(
        "meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )


def downgrade() -> None:
    for table in (
        "meta",
        "rollup_1h",
        "rollup_1m",
        "monitor_state",
        "state_changes",
        "results",
    ):
        op.drop_table(table)
    op.drop_table("monitors")
