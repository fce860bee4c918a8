"""Reports: a check kind's structured report of a run (an audit's grade, tests, findings).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

A migration is a frozen snapshot: it never imports ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", _BIG_ID, primary_key=True),
        sa.Column("monitor_id", sa.Integer, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
    )
    op.create_index("ix_reports_monitor_id_ts", "reports", ["monitor_id", "ts"])


def downgrade() -> None:
    op.drop_table("reports")
