"""audit: sealed rows and a portable chain

Revision ID: 0006_audit_seals
Revises: 0005_detect_baselines
Create Date: 2026-12-06

- ``events.seal``: an HMAC Limen's writers put on every row, so the chainer links only
  rows it can vouch for; ``events.quarantined_at``: set on a row it cannot;
- ``audit_chain_head.portable_from``: links from this position on cover a canonical form
  that is the same on SQLite and PostgreSQL (earlier ones: their backend's);
- ``audit_chain_head.unsealed_through``: rows written before this migration carry no seal
  and are linked as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_audit_seals"
down_revision = "0005_detect_baselines"
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("seal", sa.LargeBinary(32)))
        batch.add_column(sa.Column("quarantined_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("audit_chain_head") as batch:
        batch.add_column(sa.Column("portable_from", _BIGINT, nullable=False, server_default="1"))
        batch.add_column(sa.Column("unsealed_through", _BIGINT, nullable=False, server_default="0"))
    # What exists now was written and linked the old way.
    op.execute(
        "UPDATE audit_chain_head SET portable_from = position + 1, "
        "unsealed_through = (SELECT coalesce(max(seq), 0) FROM events)"
    )
    op.execute(
        "INSERT INTO audit_chain_head (id, position, event_id, link, pruned_through, "
        "portable_from, unsealed_through, updated_at) "
        "SELECT 1, 0, NULL, NULL, 0, 1, (SELECT max(seq) FROM events), CURRENT_TIMESTAMP "
        "WHERE NOT EXISTS (SELECT 1 FROM audit_chain_head) "
        "AND EXISTS (SELECT 1 FROM events) "
        "AND NOT EXISTS (SELECT 1 FROM events WHERE chain_pos IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_chain_head") as batch:
        batch.drop_column("unsealed_through")
        batch.drop_column("portable_from")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("quarantined_at")
        batch.drop_column("seal")
