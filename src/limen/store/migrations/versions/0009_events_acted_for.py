"""events: find what was done on an identity's behalf without reading the whole log

Revision ID: 0009_events_acted_for
Revises: 0008_provisioning
Create Date: 2026-12-06

On PostgreSQL, a GIN index on the delegation chain (``CAST(delegation AS JSONB)``, the
expression ``limen.audit.log`` asks with ``@>``), so that the events of an identity,
its own and those done on its behalf (``/v1/events?identity=``, the console's identity
page), are index lookups, not a scan of every event. SQLite has no such index: there the
lookup reads the log (see ``benchmarks/console.py``).
"""

from __future__ import annotations

from alembic import op

revision = "0009_events_acted_for"
down_revision = "0008_provisioning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_events_acted_for ON events "
            "USING gin ((CAST(delegation AS JSONB)) jsonb_path_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_events_acted_for")
