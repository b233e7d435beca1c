"""scim: a provisioning token may carry its own orphans policy

Revision ID: 0017_scim_token_orphans
Revises: 0016_assertion_jti
Create Date: 2026-12-06

``api_tokens.orphans``: what deprovisioning through this SCIM token does with the
agents and services the person owns (``suspend``, ``transfer-to-manager``, ``keep``);
empty (``NULL``) follows the installation's ``LIMEN_ORPHANS``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_scim_token_orphans"
down_revision = "0016_assertion_jti"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("orphans", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("orphans")
