"""detect and respond, live: alerts, the detector's cursor, playbooks, the threat level

Revision ID: 0007_detect_alerts
Revises: 0006_audit_seals
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_detect_alerts"
down_revision = "0006_audit_seals"
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "detect_alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("identity_id", sa.String(length=32), nullable=True),
        sa.Column("identity_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.Column("first_at", _TIME, nullable=False),
        sa.Column("last_at", _TIME, nullable=False),
        sa.Column("raised_at", _TIME, nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("teach_pending", sa.Boolean(), nullable=False),
        sa.Column("handled_by", sa.String(length=200), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detect_alerts")),
    )
    op.create_index(op.f("ix_detect_alerts_subject"), "detect_alerts", ["subject"])
    op.create_index(op.f("ix_detect_alerts_status"), "detect_alerts", ["status"])
    op.create_index(op.f("ix_detect_alerts_teach_pending"), "detect_alerts", ["teach_pending"])
    op.create_table(
        "detect_cursor",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("position", _BIGINT, nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_detect_cursor")),
    )
    op.create_table(
        "respond_playbooks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_respond_playbooks")),
    )
    op.create_table(
        "respond_threat_level",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_respond_threat_level")),
    )


def downgrade() -> None:
    op.drop_table("respond_threat_level")
    op.drop_table("respond_playbooks")
    op.drop_table("detect_cursor")
    op.drop_index(op.f("ix_detect_alerts_teach_pending"), table_name="detect_alerts")
    op.drop_index(op.f("ix_detect_alerts_status"), table_name="detect_alerts")
    op.drop_index(op.f("ix_detect_alerts_subject"), table_name="detect_alerts")
    op.drop_table("detect_alerts")
