"""vault_items: an item whose secret must be rotated says so itself

Revision ID: 0012_item_rotation_needed
Revises: 0011_scim_user_name
Create Date: 2026-12-06

Offboarding flags the items a leaver could read; until now only as events. The flag now
sits on the item (``rotation_needed_since``, ``rotation_needed_reason``), where the item's
metadata, the vault report and the access review show it, and a change of the item's
secret values clears it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_item_rotation_needed"
down_revision = "0011_scim_user_name"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vault_items") as batch:
        batch.add_column(sa.Column("rotation_needed_since", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("rotation_needed_reason", sa.String(300)))


def downgrade() -> None:
    with op.batch_alter_table("vault_items") as batch:
        batch.drop_column("rotation_needed_reason")
        batch.drop_column("rotation_needed_since")
