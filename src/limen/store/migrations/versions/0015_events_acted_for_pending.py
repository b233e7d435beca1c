"""events: on PostgreSQL, a lookup of what was done on an identity's behalf reads a
bounded pending list

Revision ID: 0015_events_acted_for_pending
Revises: 0014_events_acted_for_sqlite
Create Date: 2026-12-06

A GIN index (``ix_events_acted_for``, 0009) gathers new entries in a pending list and
every lookup reads all of it; by default the list grows to 4 MB before an insert or
autovacuum merges it. The audit log is written all the time, so an identity's console
page and ``/v1/events?identity=`` read up to 4 MB more on each request: 500 pages, 30-50 ms
with a million events (``benchmarks/console.py``, issue #19), however few events match.
A 64 kB list keeps most of the batching that spares writers (eight pages) and bounds
what a reader pays; the list there now is merged here.
"""

from __future__ import annotations

from alembic import op

revision = "0015_events_acted_for_pending"
down_revision = "0014_events_acted_for_sqlite"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_events_acted_for SET (gin_pending_list_limit = 64)")
        op.execute("SELECT gin_clean_pending_list('ix_events_acted_for'::regclass)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_events_acted_for RESET (gin_pending_list_limit)")
