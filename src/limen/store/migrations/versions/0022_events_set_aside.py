"""events: the rows the chainer set aside, found from an index of their own

Revision ID: 0022_events_set_aside
Revises: 0021_alert_pages
Create Date: 2026-12-07

A row inserted behind Limen's back (no valid seal) is set aside by the chainer
(``quarantined_at``) and never linked. Readers that must leave such rows out without
losing a covering index (the access review's one pass over ``ix_events_use``) look them
up here instead: a partial index holding only those rows, empty on an untouched
installation. ``limen audit verify`` finds the first of them here too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_events_set_aside"
down_revision = "0021_alert_pages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_events_set_aside",
        "events",
        ["seq"],
        sqlite_where=sa.text("quarantined_at IS NOT NULL"),
        postgresql_where=sa.text("quarantined_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_set_aside", table_name="events")
