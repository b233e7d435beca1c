"""one status model and one authorization path

Revision ID: 0003_status_and_roles
Revises: 0002_merge_heads
Create Date: 2026-12-06

- ``identities.tokens_valid_after``: the cut-off every suspension sets;
- ``partners``: registrations, the only thing that makes a partner (no longer the
  user-settable ``attributes.partner``); existing partners are those whose registration
  is in the event log (``partner.create``);
- ``access_policies.realm``: ``access`` (PEP decisions) or ``admin`` (Limen's own roles);
- ``containments.engaged_by_id``: the identity a kill switch spares;
- ``store_notices``: change notices between processes sharing a SQLite file.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_status_and_roles"
down_revision = "0002_merge_heads"
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("tokens_valid_after", sa.DateTime(timezone=True)))
    with op.batch_alter_table("access_policies") as batch:
        batch.add_column(sa.Column("realm", sa.String(16), nullable=False, server_default="access"))
    with op.batch_alter_table("containments") as batch:
        batch.add_column(sa.Column("engaged_by_id", sa.String(26)))
    op.create_table(
        "partners",
        sa.Column("identity_id", sa.String(26), sa.ForeignKey("identities.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("identity_id", name="pk_partners"),
    )
    op.create_table(
        "store_notices",
        sa.Column("seq", _BIGINT, autoincrement=True, nullable=False),
        sa.Column("node", sa.String(26), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_store_notices"),
    )
    op.create_index("ix_store_notices_created_at", "store_notices", ["created_at"])
    # A partner is whoever `limen partner create` registered: its registration event is
    # in the (hash-chained) log. An identity that merely says ``partner: true`` is not.
    op.execute(
        "INSERT INTO partners (identity_id, created_at, created_by) "
        "SELECT i.id, MIN(e.occurred_at), MIN(e.actor_name) FROM identities i "
        "JOIN events e ON e.action = 'partner.create' AND e.resource_id = i.id "
        "WHERE i.kind = 'service' GROUP BY i.id"
    )


def downgrade() -> None:
    op.drop_index("ix_store_notices_created_at", table_name="store_notices")
    op.drop_table("store_notices")
    op.drop_table("partners")
    with op.batch_alter_table("containments") as batch:
        batch.drop_column("engaged_by_id")
    with op.batch_alter_table("access_policies") as batch:
        batch.drop_column("realm")
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("tokens_valid_after")
