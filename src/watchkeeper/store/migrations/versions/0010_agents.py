"""Agents: the remote probes of each location, and the cluster's inbox of their results.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

A migration is a frozen snapshot: it never imports ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("token_id", sa.Integer, nullable=True),
        sa.Column("version", sa.Text, nullable=True),
        sa.Column("address", sa.Text, nullable=True),
        sa.Column("node", sa.Text, nullable=True),
        sa.Column("started_at", sa.Double, nullable=True),
        sa.Column("first_seen", sa.Double, nullable=False),
        sa.Column("last_seen", sa.Double, nullable=False),
        sa.Column("clock_offset", sa.Double, nullable=True),
        sa.Column("lag_p99", sa.Double, nullable=True),
        sa.Column("checks", _BIG, nullable=False, server_default="0"),
        sa.Column("pushed", _BIG, nullable=False, server_default="0"),
        sa.Column("buffered", _BIG, nullable=False, server_default="0"),
        sa.Column("dropped", _BIG, nullable=False, server_default="0"),
        sa.Column("refused", _BIG, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("location", "name", name="pk_agents"),
    )
    op.create_table(
        "cluster_inbox",
        sa.Column("id", _BIG, nullable=False, autoincrement=True),
        sa.Column("monitor", sa.Text, nullable=False),
        sa.Column("received_at", sa.Double, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cluster_inbox"),
    )
    op.create_index("ix_cluster_inbox_monitor", "cluster_inbox", ["monitor"])
    with op.batch_alter_table("cluster_nodes") as table:
        table.add_column(sa.Column("lag_p99", sa.Double, nullable=True))
        table.add_column(sa.Column("ttl", sa.Double, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cluster_nodes") as table:
        table.drop_column("ttl")
        table.drop_column("lag_p99")
    op.drop_table("cluster_inbox")
    op.drop_table("agents")
