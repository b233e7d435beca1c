"""audit: hash chain columns on events, chain head, checkpoints, push sinks

Revision ID: audit_0001
Revises: 0001_foundation
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "audit_0001"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_pos", _BIGINT, nullable=True))
        batch_op.add_column(sa.Column("chain_prev_id", sa.String(length=26), nullable=True))
        batch_op.add_column(sa.Column("link", sa.LargeBinary(length=32), nullable=True))
        batch_op.create_index("ix_events_chain_pos", ["chain_pos"], unique=True)
        batch_op.create_index(
            "ix_events_unchained",
            ["seq"],
            unique=False,
            sqlite_where=sa.text("chain_pos IS NULL"),
            postgresql_where=sa.text("chain_pos IS NULL"),
        )

    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", _BIGINT, nullable=False),
        sa.Column("event_id", sa.String(length=26), nullable=True),
        sa.Column("link", sa.LargeBinary(length=32), nullable=True),
        sa.Column("pruned_through", _BIGINT, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("position", _BIGINT, nullable=False),
        sa.Column("event_id", sa.String(length=26), nullable=False),
        sa.Column("link", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_checkpoints_position"), ["position"], unique=False
        )
    op.create_table(
        "audit_sinks",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("delivered_through", _BIGINT, nullable=False),
        sa.Column("delivered_count", _BIGINT, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=26), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_sinks")),
        sa.UniqueConstraint("name", name=op.f("uq_audit_sinks_name")),
    )


def downgrade() -> None:
    op.drop_table("audit_sinks")
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoints_position"))
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_unchained")
        batch_op.drop_index("ix_events_chain_pos")
        batch_op.drop_column("link")
        batch_op.drop_column("chain_prev_id")
        batch_op.drop_column("chain_pos")
