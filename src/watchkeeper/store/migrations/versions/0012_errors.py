"""Error tracking: Sentry-compatible projects, issues, their newest events and counts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-12

A migration is a frozen snapshot: it never imports ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "error_projects",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("public_key", sa.Text, nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("settings", sa.Text, nullable=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("created_by", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_error_projects"),
        sa.UniqueConstraint("name", name="uq_error_projects_name"),
    )
    op.create_table(
        "error_issues",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("first_seen", sa.Double, nullable=False),
        sa.Column("last_seen", sa.Double, nullable=False),
        sa.Column("count", _BIG, nullable=False, server_default="0"),
        sa.Column("resolved_at", sa.Double, nullable=True),
        sa.Column("regressed_at", sa.Double, nullable=True),
        sa.Column("status_changed_at", sa.Double, nullable=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("users", sa.Integer, nullable=False, server_default="0"),
        sa.Column("times_regressed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="unresolved"),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("culprit", sa.Text, nullable=True),
        sa.Column("type", sa.Text, nullable=True),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("platform", sa.Text, nullable=True),
        sa.Column("first_release", sa.Text, nullable=True),
        sa.Column("last_release", sa.Text, nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("resolution_release", sa.Text, nullable=True),
        sa.Column("status_by", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_error_issues"),
        sa.UniqueConstraint(
            "project_id", "fingerprint", name="uq_error_issues_project_id_fingerprint"
        ),
    )
    op.create_index(
        "ix_error_issues_project_id_last_seen", "error_issues", ["project_id", "last_seen"]
    )
    op.create_index("ix_error_issues_last_seen", "error_issues", ["last_seen"])
    op.create_table(
        "error_events",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("issue_id", _BIG, nullable=False),
        sa.Column("received_at", sa.Double, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("release", sa.Text, nullable=True),
        sa.Column("environment", sa.Text, nullable=True),
        sa.Column("user_hash", sa.Text, nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_error_events"),
        sa.UniqueConstraint("project_id", "event_id", name="uq_error_events_project_id_event_id"),
    )
    op.create_index(
        "ix_error_events_issue_id_received_at", "error_events", ["issue_id", "received_at"]
    )
    op.create_index("ix_error_events_received_at", "error_events", ["received_at"])
    op.create_table(
        "error_issue_users",
        sa.Column("issue_id", _BIG, nullable=False),
        sa.Column("user_hash", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("issue_id", "user_hash", name="pk_error_issue_users"),
    )
    op.create_table(
        "error_issue_tags",
        sa.Column("issue_id", _BIG, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("count", _BIG, nullable=False),
        sa.Column("last_seen", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("issue_id", "key", "value", name="pk_error_issue_tags"),
    )
    op.create_table(
        "error_minutes",
        sa.Column("issue_id", _BIG, nullable=False),
        sa.Column("minute", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("issue_id", "minute", name="pk_error_minutes"),
    )
    op.create_index("ix_error_minutes_minute", "error_minutes", ["minute"])
    op.create_table(
        "error_releases",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("first_seen", sa.Double, nullable=False),
        sa.Column("last_seen", sa.Double, nullable=False),
        sa.Column("events", _BIG, nullable=False, server_default="0"),
        sa.Column("sessions", _BIG, nullable=False, server_default="0"),
        sa.Column("crashed", _BIG, nullable=False, server_default="0"),
        sa.Column("errored", _BIG, nullable=False, server_default="0"),
        sa.Column("abnormal", _BIG, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("project_id", "version", name="pk_error_releases"),
    )
    op.create_table(
        "error_outcomes",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("hour", sa.BigInteger, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("quantity", _BIG, nullable=False),
        sa.PrimaryKeyConstraint(
            "project_id", "hour", "category", "outcome", name="pk_error_outcomes"
        ),
    )


def downgrade() -> None:
    for table in (
        "error_outcomes",
        "error_releases",
        "error_minutes",
        "error_issue_tags",
        "error_issue_users",
        "error_events",
        "error_issues",
        "error_projects",
    ):
        op.drop_table(table)
