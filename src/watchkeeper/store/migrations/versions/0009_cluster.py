"""Cluster: the nodes sharing one PostgreSQL store, the monitors' leases, the alert leader.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

A migration is a frozen snapshot: it never imports ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("node", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("protocol", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("heartbeat_at", sa.Double, nullable=False),
        sa.Column("leaving", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("node", name="pk_cluster_nodes"),
    )
    op.create_table(
        "cluster_leases",
        sa.Column("monitor", sa.Text, nullable=False),
        sa.Column("node", sa.Text, nullable=True),
        sa.Column("token", _BIG, nullable=False, server_default="0"),
        sa.Column("expires_at", sa.Double, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("monitor", name="pk_cluster_leases"),
    )
    op.create_index("ix_cluster_leases_node", "cluster_leases", ["node"])
    op.create_table(
        "cluster_leader",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("node", sa.Text, nullable=True),
        sa.Column("token", _BIG, nullable=False, server_default="0"),
        sa.Column("expires_at", sa.Double, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_cluster_leader"),
    )


def downgrade() -> None:
    op.drop_table("cluster_leader")
    op.drop_table("cluster_leases")
    op.drop_table("cluster_nodes")
