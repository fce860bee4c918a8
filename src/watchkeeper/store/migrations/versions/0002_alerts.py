"""Alerting: soft-expectation warnings on results, incidents and their timelines, the alert
event queue, the notification outbox, route health and silences.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

A migration is a frozen snapshot: it never imports ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("warnings", sa.Text, nullable=True))
    op.create_table(
        "incidents",
        sa.Column("id", _BIG_ID, primary_key=True),
        sa.Column(
            "monitor_id",
            sa.Integer,
            sa.ForeignKey("monitors.id", name="fk_incidents_monitor_id_monitors"),
            nullable=False,
        ),
        sa.Column("opened_at", sa.Double, nullable=False),
        sa.Column("closed_at", sa.Double, nullable=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("worst", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("cause", sa.Text, nullable=True),
        sa.Column("acked_at", sa.Double, nullable=True),
        sa.Column("acked_by", sa.Text, nullable=True),
        sa.Column("notified_at", sa.Double, nullable=True),
        sa.Column("last_notified_at", sa.Double, nullable=True),
        sa.Column("escalated_at", sa.Double, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_monitor_id_opened_at", "incidents", ["monitor_id", "opened_at"])
    op.create_index("ix_incidents_closed_at", "incidents", ["closed_at"])
    op.create_table(
        "incident_events",
        sa.Column("id", _BIG_ID, primary_key=True),
        sa.Column(
            "incident_id",
            _BIG_ID,
            sa.ForeignKey("incidents.id", name="fk_incident_events_incident_id_incidents"),
            nullable=False,
        ),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incident_events"),
    )
    op.create_index("ix_incident_events_incident_id_at", "incident_events", ["incident_id", "at"])
    op.create_table(
        "alert_events",
        sa.Column("id", _BIG_ID, primary_key=True),
        sa.Column(
            "incident_id",
            _BIG_ID,
            sa.ForeignKey("incidents.id", name="fk_alert_events_incident_id_incidents"),
            nullable=False,
        ),
        sa.Column("monitor", sa.Text, nullable=False),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("notification_id", _BIG_ID, nullable=True),
        sa.Column("item", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_events"),
    )
    op.create_index("ix_alert_events_status_route", "alert_events", ["status", "route"])
    op.create_index("ix_alert_events_incident_id", "alert_events", ["incident_id"])
    op.create_table(
        "notifications",
        sa.Column("id", _BIG_ID, primary_key=True),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("dedup_key", sa.Text, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Double, nullable=False),
        sa.Column("lease_until", sa.Double, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("delivered_at", sa.Double, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("dedup_key", name="uq_notifications_dedup_key"),
    )
    op.create_index(
        "ix_notifications_status_next_attempt_at",
        "notifications",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "route_health",
        sa.Column("route", sa.Text, primary_key=True),
        sa.Column("broken_since", sa.Double, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_success_at", sa.Double, nullable=True),
        sa.Column("last_failure_at", sa.Double, nullable=True),
        sa.PrimaryKeyConstraint("route", name="pk_route_health"),
    )
    op.create_table(
        "silences",
        sa.Column("id", _BIG_ID, primary_key=True),
        sa.Column("monitor", sa.Text, nullable=True),
        sa.Column("tag", sa.Text, nullable=True),
        sa.Column("starts_at", sa.Double, nullable=False),
        sa.Column("ends_at", sa.Double, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_by", sa.Text, nullable=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("expired_at", sa.Double, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_silences"),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])


def downgrade() -> None:
    for table in (
        "silences",
        "route_health",
        "notifications",
        "alert_events",
        "incident_events",
        "incidents",
    ):
        op.drop_table(table)
    with op.batch_alter_table("results") as batch:
        batch.drop_column("warnings")
