"""respond: containments, kill switches, Shared Signals streams and outbox

Revision ID: respond_0001
Revises: 0001_foundation
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "respond_0001"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "containments",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target_kind", sa.String(length=32), nullable=True),
        sa.Column("root_id", sa.String(length=26), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("engaged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("engaged_by", sa.String(length=200), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["root_id"], ["identities.id"], name=op.f("fk_containments_root_id_identities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_containments")),
    )
    with op.batch_alter_table("containments", schema=None) as batch_op:
        batch_op.create_index("ix_containments_kind_released", ["kind", "released_at"])

    op.create_table(
        "containment_members",
        sa.Column("containment_id", sa.String(length=26), nullable=False),
        sa.Column("identity_id", sa.String(length=26), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_outcome", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["containment_id"],
            ["containments.id"],
            name=op.f("fk_containment_members_containment_id_containments"),
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_containment_members_identity_id_identities"),
        ),
        sa.PrimaryKeyConstraint(
            "containment_id", "identity_id", name=op.f("pk_containment_members")
        ),
    )
    with op.batch_alter_table("containment_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_containment_members_identity_id"), ["identity_id"], unique=False
        )

    op.create_table(
        "ssf_streams",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("receiver_id", sa.String(length=26), nullable=False),
        sa.Column("iss", sa.Text(), nullable=False),
        sa.Column("aud", sa.JSON(), nullable=False),
        sa.Column("delivery_method", sa.String(length=64), nullable=False),
        sa.Column("endpoint_url", sa.Text(), nullable=True),
        sa.Column("authorization_header", sa.Text(), nullable=True),
        sa.Column("events_requested", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["receiver_id"], ["identities.id"], name=op.f("fk_ssf_streams_receiver_id_identities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ssf_streams")),
    )
    with op.batch_alter_table("ssf_streams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ssf_streams_receiver_id"), ["receiver_id"])

    op.create_table(
        "ssf_outbox",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("stream_id", sa.String(length=26), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("source_event_id", sa.String(length=26), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["ssf_streams.id"],
            name=op.f("fk_ssf_outbox_stream_id_ssf_streams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ssf_outbox")),
        sa.UniqueConstraint("jti", name=op.f("uq_ssf_outbox_jti")),
    )
    with op.batch_alter_table("ssf_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_ssf_outbox_due", ["state", "next_attempt_at"])
        batch_op.create_index("ix_ssf_outbox_stream_state", ["stream_id", "state"])
        batch_op.create_index(batch_op.f("ix_ssf_outbox_stream_id"), ["stream_id"])

    op.create_table(
        "ssf_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", _SEQ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ssf_cursor")),
    )


def downgrade() -> None:
    op.drop_table("ssf_cursor")
    op.drop_table("ssf_outbox")
    op.drop_table("ssf_streams")
    op.drop_table("containment_members")
    op.drop_table("containments")
