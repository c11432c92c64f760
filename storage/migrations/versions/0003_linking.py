"""one customer across channels: linking codes, throttles, phone proofs, merge log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "link_codes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("selector_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("identity_id", _ID, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.Column("used_by", _ID, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["identity_id"], ["identities.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash", name="uq_link_code_hash"),
    )
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_codes_customer_id"), ["customer_id"])
        batch_op.create_index(batch_op.f("ix_link_codes_identity_id"), ["identity_id"])
        batch_op.create_index("ix_link_codes_selector", ["selector_hash"])
    op.create_table(
        "install_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "link_throttle",
        sa.Column("identity_id", _ID, autoincrement=False, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("identity_id"),
    )
    op.create_table(
        "phone_proofs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("identity_id", _ID, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["identity_id"], ["identities.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone", name="uq_phone_proof"),
    )
    with op.batch_alter_table("phone_proofs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phone_proofs_identity_id"), ["identity_id"])
    op.create_table(
        "merge_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("other_customer_id", _ID, nullable=False),
        sa.Column("proof", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("moved", storage.types.JSONText(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["other_customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("merge_log", schema=None) as batch_op:
        batch_op.create_index("ix_merge_log_customer", ["customer_id", "id"])


def downgrade() -> None:
    with op.batch_alter_table("merge_log", schema=None) as batch_op:
        batch_op.drop_index("ix_merge_log_customer")
    op.drop_table("merge_log")
    with op.batch_alter_table("phone_proofs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phone_proofs_identity_id"))
    op.drop_table("phone_proofs")
    op.drop_table("link_throttle")
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_link_codes_selector")
        batch_op.drop_index(batch_op.f("ix_link_codes_identity_id"))
        batch_op.drop_index(batch_op.f("ix_link_codes_customer_id"))
    op.drop_table("link_codes")
    op.drop_table("install_secrets")
