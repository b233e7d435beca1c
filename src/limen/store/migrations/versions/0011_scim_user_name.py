"""provisioned_users: find a user by name whatever its case, from an index

Revision ID: 0011_scim_user_name
Revises: 0010_events_use
Create Date: 2026-12-06

An identity provider looks a user up (``GET /Users?filter=userName eq "…"``) before each
push; SCIM compares ``userName`` case-insensitively, so the lookup asks for
``lower(user_name)``, which the unique index on ``user_name`` cannot answer. An index on
that expression makes it one index probe instead of a scan of every provisioned user.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_scim_user_name"
down_revision = "0010_events_use"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_provisioned_users_lower_name",
        "provisioned_users",
        [sa.text("lower(user_name)")],
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_provisioned_users_lower_name", table_name="provisioned_users", if_exists=True)
