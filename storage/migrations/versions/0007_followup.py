"""followup: scheduled work in customers' lines, durable events and their deliveries, survey
answers

Revision ID: followup
Revises: media
Create Date: 2026-12-07 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "followup"
down_revision = "media"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "scheduled",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("flow", sa.String(length=255), nullable=True),
        sa.Column("payload", storage.types.JSONText(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("inbox_id", _ID, nullable=True),
        sa.Column("reason", storage.types.SafeText(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("fired_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_scheduled_key"),
    )
    op.create_index("ix_scheduled_customer", "scheduled", ["customer_id", "id"])
    op.create_index("ix_scheduled_run_id", "scheduled", ["run_id"])
    op.create_index(
        "ix_scheduled_due",
        "scheduled",
        ["due_at"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("data", storage.types.JSONText(), nullable=False),
        sa.Column("routed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_customer", "events", ["customer_id", "id"])
    op.create_index(
        "ix_events_unrouted",
        "events",
        ["id"],
        sqlite_where=sa.text("routed = 0"),
        postgresql_where=sa.text("routed = false"),
    )
    op.create_table(
        "event_deliveries",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("event_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("last_error", storage.types.SafeText(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claim_until", sa.Float(), nullable=True),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "target", name="uq_delivery_target"),
    )
    op.create_index("ix_deliveries_due", "event_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_customer", "event_deliveries", ["customer_id", "id"])
    op.create_table(
        "survey_answers",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("event_id", _ID, nullable=True),
        sa.Column("conversation_id", _ID, nullable=True),
        sa.Column("agent_id", _ID, nullable=True),
        sa.Column("flow", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", storage.types.SafeText(), nullable=True),
        sa.Column("after", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_survey_customer", "survey_answers", ["customer_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_survey_customer", table_name="survey_answers")
    op.drop_table("survey_answers")
    op.drop_index("ix_deliveries_customer", table_name="event_deliveries")
    op.drop_index("ix_deliveries_due", table_name="event_deliveries")
    op.drop_table("event_deliveries")
    op.drop_index("ix_events_unrouted", table_name="events")
    op.drop_index("ix_events_customer", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_scheduled_due", table_name="scheduled")
    op.drop_index("ix_scheduled_run_id", table_name="scheduled")
    op.drop_index("ix_scheduled_customer", table_name="scheduled")
    op.drop_table("scheduled")
