"""lifecycle: humans and groups provisioned by an identity provider (SCIM)

Revision ID: 0008_provisioning
Revises: 0007_detect_alerts
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_provisioning"
down_revision = "0007_detect_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provisioned_users",
        sa.Column("identity_id", sa.String(length=26), nullable=False),
        sa.Column("user_name", sa.String(length=320), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("granted_roles", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_provisioned_users_identity_id_identities"),
        ),
        sa.PrimaryKeyConstraint("identity_id", name=op.f("pk_provisioned_users")),
        sa.UniqueConstraint("user_name", name=op.f("uq_provisioned_users_user_name")),
    )
    op.create_index(op.f("ix_provisioned_users_external_id"), "provisioned_users", ["external_id"])
    op.create_table(
        "provisioned_groups",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioned_groups")),
        sa.UniqueConstraint("display_name", name=op.f("uq_provisioned_groups_display_name")),
    )
    op.create_index(
        op.f("ix_provisioned_groups_external_id"), "provisioned_groups", ["external_id"]
    )
    op.create_table(
        "provisioned_members",
        sa.Column("group_id", sa.String(length=26), nullable=False),
        sa.Column("identity_id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["provisioned_groups.id"],
            name=op.f("fk_provisioned_members_group_id_provisioned_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_provisioned_members_identity_id_identities"),
        ),
        sa.PrimaryKeyConstraint("group_id", "identity_id", name=op.f("pk_provisioned_members")),
    )
    op.create_index(
        op.f("ix_provisioned_members_identity_id"), "provisioned_members", ["identity_id"]
    )


def downgrade() -> None:
    op.drop_table("provisioned_members")
    op.drop_table("provisioned_groups")
    op.drop_table("provisioned_users")
