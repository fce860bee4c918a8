"""Real-user monitoring: the web-vitals beacons' tallies by minute and hour, and the worst
samples with their attribution.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

A migration is a frozen snapshot: it never imports ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tallies(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", _BIG, nullable=False, autoincrement=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("page", sa.Text, nullable=False),
        sa.Column("device", sa.Text, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("good", sa.Integer, nullable=False),
        sa.Column("needs_improvement", sa.Integer, nullable=False),
        sa.Column("poor", sa.Integer, nullable=False),
        sa.Column("histogram", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_at", name, ["at"])
    op.create_index(f"ix_{name}_page_metric_at", name, ["page", "metric", "at"])


def upgrade() -> None:
    _tallies("rum_minutes")
    _tallies("rum_hours")
    op.create_table(
        "rum_samples",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("page", sa.Text, nullable=False),
        sa.Column("device", sa.Text, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("rating", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("navigation", sa.Text, nullable=False),
        sa.Column("attribution", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rum_samples"),
    )
    op.create_index("ix_rum_samples_at", "rum_samples", ["at"])
    op.create_index("ix_rum_samples_page_metric_at", "rum_samples", ["page", "metric", "at"])


def downgrade() -> None:
    op.drop_table("rum_samples")
    op.drop_table("rum_hours")
    op.drop_table("rum_minutes")
