"""identities: every filter of the console's list pages through an index in page order

Revision ID: 0020_identities_pages
Revises: 0019_events_recent
Create Date: 2026-12-06

The list of identities pages by keyset on ``(created_at, id)``. With a filter on kind,
status, owner (or none: the unowned, the first page of the console) or managed, the
index on that column alone found every match and the database sorted them all for the
first 50 (10,000 for status ``active``), and ``managed`` had no index at all: the whole
table was read in creation order for the shadow identities. Each of those columns now
leads an index that goes on with ``(created_at, id)``, so a page is the next 51 entries
of one index, however many match (issue #19).
"""

from __future__ import annotations

from alembic import op

revision = "0020_identities_pages"
down_revision = "0019_events_recent"
branch_labels = None
depends_on = None

_REPLACED = {
    "kind": "ix_identities_kind",
    "status": "ix_identities_status",
    "owner_id": "ix_identities_owner_id",
}


def upgrade() -> None:
    for column, old in _REPLACED.items():
        op.create_index(f"ix_identities_{column}_page", "identities", [column, "created_at", "id"])
        op.drop_index(old, table_name="identities")
    op.create_index("ix_identities_managed_page", "identities", ["managed", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_identities_managed_page", table_name="identities")
    for column, old in _REPLACED.items():
        op.create_index(old, "identities", [column])
        op.drop_index(f"ix_identities_{column}_page", table_name="identities")
