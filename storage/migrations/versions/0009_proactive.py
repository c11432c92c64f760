"""proactive: messages Baton sends first, and campaigns

Revision ID: proactive
Revises: privacy
Create Date: 2026-12-07 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "proactive"
down_revision = "privacy"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", storage.types.SafeText(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("payload", storage.types.JSONText(), nullable=False),
        sa.Column("segment", storage.types.JSONText(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claim_until", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_campaigns_status", "campaigns", ["status", "id"], unique=False)
    op.create_table(
        "proactive_messages",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("campaign_id", _ID, nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("payload", storage.types.JSONText(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=True),
        sa.Column("reason", storage.types.SafeText(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("identity_id", _ID, nullable=True),
        sa.Column("message_id", _ID, nullable=True),
        sa.Column("outbox_id", _ID, nullable=True),
        sa.Column("sending_by", sa.String(length=64), nullable=True),
        sa.Column("sending_attempts", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "customer_id", name="uq_proactive_campaign_customer"),
    )
    op.create_index(
        "ix_proactive_customer", "proactive_messages", ["customer_id", "id"], unique=False
    )
    op.create_index(
        "ix_proactive_campaign",
        "proactive_messages",
        ["campaign_id", "status", "channel", "id"],
        unique=False,
    )

    op.create_index("ix_proactive_outbox", "proactive_messages", ["outbox_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_proactive_outbox", table_name="proactive_messages")
    op.drop_index("ix_proactive_campaign", table_name="proactive_messages")
    op.drop_index("ix_proactive_customer", table_name="proactive_messages")
    op.drop_table("proactive_messages")
    op.drop_index("ix_campaigns_status", table_name="campaigns")
    op.drop_table("campaigns")
