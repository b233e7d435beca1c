"""discovery fleet: machines that report scans, and the exposures each one holds

Revision ID: 0004_discovery_fleet
Revises: 0003_status_and_roles
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_discovery_fleet"
down_revision = "0003_status_and_roles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_machines",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("fleet", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=True),
        sa.Column("token_id", sa.String(length=26), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_tokens.id"], name=op.f("fk_fleet_machines_token_id_api_tokens")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_machines")),
        sa.UniqueConstraint("fleet", "name", name="uq_fleet_machines_fleet_name"),
    )
    op.create_table(
        "fleet_exposures",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("machine_id", sa.String(length=26), nullable=False),
        sa.Column("scope_key", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=1000), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["machine_id"],
            ["fleet_machines.id"],
            name=op.f("fk_fleet_exposures_machine_id_fleet_machines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_exposures")),
        sa.UniqueConstraint(
            "machine_id", "scope_key", "fingerprint", "location", name="uq_fleet_exposures_place"
        ),
    )
    op.create_index(
        "ix_fleet_exposures_machine_status", "fleet_exposures", ["machine_id", "status"]
    )
    op.create_index(op.f("ix_fleet_exposures_fingerprint"), "fleet_exposures", ["fingerprint"])


def downgrade() -> None:
    op.drop_index(op.f("ix_fleet_exposures_fingerprint"), table_name="fleet_exposures")
    op.drop_index("ix_fleet_exposures_machine_status", table_name="fleet_exposures")
    op.drop_table("fleet_exposures")
    op.drop_table("fleet_machines")
