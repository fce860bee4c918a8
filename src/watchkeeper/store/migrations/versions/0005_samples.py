"""Series: every check's numeric observations (samples) and their 1-minute and 1-hour rollups.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

A migration is a frozen snapshot: it never imports ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "samples",
        sa.Column("monitor_id", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
    )
    op.create_index("ix_samples_monitor_id_name_ts", "samples", ["monitor_id", "name", "ts"])
    op.create_index("ix_samples_monitor_id_ts", "samples", ["monitor_id", "ts"])
    for table in ("sample_1m", "sample_1h"):
        op.create_table(
            table,
            sa.Column("monitor_id", sa.Integer, nullable=False),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("bucket", sa.BigInteger, nullable=False),
            sa.Column("count", sa.Integer, nullable=False),
            sa.Column("min", sa.Double, nullable=False),
            sa.Column("max", sa.Double, nullable=False),
            sa.Column("mean", sa.Double, nullable=False),
            sa.Column("last", sa.Double, nullable=False),
            sa.PrimaryKeyConstraint("monitor_id", "name", "bucket", name=f"pk_{table}"),
        )
        op.create_index(f"ix_{table}_monitor_id_bucket", table, ["monitor_id", "bucket"])


def downgrade() -> None:
    op.drop_table("sample_1h")
    op.drop_table("sample_1m")
    op.drop_table("samples")
