"""tokens: used client assertions, shared by every node

Revision ID: 0016_assertion_jti
Revises: 0015_events_acted_for_pending
Create Date: 2026-12-06

``assertion_jtis``: each ``private_key_jwt`` assertion used (RFC 7523 §3: a ``jti`` may be
used once), kept until it expires. It was a per-process set, so a second node or worker
accepted an assertion the first had already taken.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_assertion_jti"
down_revision = "0015_events_acted_for_pending"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assertion_jtis",
        sa.Column("client_id", sa.String(26), nullable=False),
        sa.Column("jti_digest", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti_digest", name="pk_assertion_jtis"),
    )
    op.create_index("ix_assertion_jtis_expires_at", "assertion_jtis", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_assertion_jtis_expires_at", table_name="assertion_jtis")
    op.drop_table("assertion_jtis")
