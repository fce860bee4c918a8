"""Heartbeats: each heartbeat monitor's ping UUID, and every ping received.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

A migration is a frozen snapshot: it never imports ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column(
            "monitor_id",
            sa.Integer,
            sa.ForeignKey("monitors.id", name="fk_heartbeats_monitor_id_monitors"),
            nullable=False,
        ),
        sa.Column("uuid", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("monitor_id", name="pk_heartbeats"),
        sa.UniqueConstraint("uuid", name="uq_heartbeats_uuid"),
    )
    op.create_table(
        "pings",
        sa.Column("id", _BIG_ID, primary_key=True),
        sa.Column("monitor_id", sa.Integer, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("rid", sa.Text, nullable=True),
        sa.Column("duration", sa.Double, nullable=True),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("source", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pings"),
    )
    op.create_index("ix_pings_monitor_id_ts", "pings", ["monitor_id", "ts"])


def downgrade() -> None:
    op.drop_table("pings")
    op.drop_table("heartbeats")
