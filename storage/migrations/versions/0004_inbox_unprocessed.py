"""inbox: an index of the rows not yet handled

The engine's sweep (every few seconds) and a restart look for inbox rows not yet handled.
Without this index that read went through the whole inbox, every message ever received; the
partial index holds only the rows waiting, so it stays as small as the backlog.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_WAITING = sa.text("processed_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_inbox_unprocessed",
        "inbox",
        ["id"],
        unique=False,
        sqlite_where=_WAITING,
        postgresql_where=_WAITING,
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_unprocessed", table_name="inbox")
