"""merge the four package branches into one linear history

Revision ID: 0002_merge_heads
Revises: respond_0001, tokens_0001, vault_0001, audit_0001
Create Date: 2026-12-06

Until now each package added a branch off ``0001_foundation`` and Limen applied all
heads. From here on there is one history: a new migration names the latest revision as
its ``down_revision`` and its file is named after its revision id.
"""

from __future__ import annotations

revision = "0002_merge_heads"
down_revision = ("respond_0001", "tokens_0001", "vault_0001", "audit_0001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
