"""detect: per-identity baselines, partitioned

Revision ID: 0005_detect_baselines
Revises: 0004_discovery_fleet
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_detect_baselines"
down_revision = "0004_discovery_fleet"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detect_baselines",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("learned_events", sa.Float(), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_detect_baselines")),
    )
    with op.batch_alter_table("detect_baselines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_detect_baselines_partition"), ["partition"], unique=False
        )


def downgrade() -> None:
    op.drop_table("detect_baselines")
