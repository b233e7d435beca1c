"""resources: operator tags on resources outside Limen

Revision ID: 0018_resource_tags
Revises: 0017_scim_token_orphans
Create Date: 2026-12-06

``resource_tags``: one row per (resource type, resource id, tag), as ``limen resource
tag db:payments-prod sensitive`` stores it. Playbooks match alerts on them
(``match.resource_tags``) and the access review counts a tagged resource as sensitive.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_resource_tags"
down_revision = "0017_scim_token_orphans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_tags",
        sa.Column("resource_type", sa.String(length=100), nullable=False),
        sa.Column("resource_id", sa.String(length=300), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "resource_type", "resource_id", "tag", name=op.f("pk_resource_tags")
        ),
    )
    op.create_index("ix_resource_tags_tag", "resource_tags", ["tag"])


def downgrade() -> None:
    op.drop_index("ix_resource_tags_tag", table_name="resource_tags")
    op.drop_table("resource_tags")
