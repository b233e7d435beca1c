"""events: what each identity did, per action and resource, from one index

Revision ID: 0010_events_use
Revises: 0009_events_acted_for
Create Date: 2026-12-06

The access review (``limen.lifecycle.review``) counts, for every identity, its successful
events per action and per vault item in a window, with the last time of each. An index on
``(action, actor_id, resource_id, outcome, occurred_at)`` holds every column those
queries read, in the order they group by: the database reads the index in order instead
of every event row and a sort (SQLite, 1,000,000 events: see ``benchmarks/access_review.py``).
"""

from __future__ import annotations

from alembic import op

revision = "0010_events_use"
down_revision = "0009_events_acted_for"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_events_use",
        "events",
        ["action", "actor_id", "resource_id", "outcome", "occurred_at"],
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_events_use", table_name="events", if_exists=True)
