"""media: the files customers send and agents attach, fetched and kept, or refused

Revision ID: media
Revises: 0005
Create Date: 2026-12-07 23:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import SafeText

revision = "media"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "media_files",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("customer_id", _ID, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("platform_ref", SafeText(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mime_type", sa.String(length=255), nullable=True),
        sa.Column("name", SafeText(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("location", SafeText(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", SafeText(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_media_files_customer", "media_files", ["customer_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_media_files_customer", table_name="media_files")
    op.drop_table("media_files")
