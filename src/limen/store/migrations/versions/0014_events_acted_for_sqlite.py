"""events: on SQLite too, find what was done on an identity's behalf without reading the log

Revision ID: 0014_events_acted_for_sqlite
Revises: 0013_ssf_stream_signing_alg
Create Date: 2026-12-06

PostgreSQL answers "the identity is in the event's delegation chain" from a GIN index
(``ix_events_acted_for``, 0009). SQLite has no index over the members of a JSON array,
so there the lookup read every event: with a million events, an identity that acted
rarely took most of a second to show (``benchmarks/console.py``, issue #19).

On SQLite, ``events_acted_for`` holds one row per (identity in a delegation chain,
event), kept by triggers: filled when an event is inserted, emptied when retention
deletes it. Triggers, not the writers, keep it, because events are also written by a
bare ``sqlite3`` connection in child processes and by ``limen db copy``; and an event's
delegation never changes after insert. Existing events are indexed here.

A later migration that rebuilds ``events`` on SQLite (``batch_alter_table``) drops
these triggers with the old table and must create them again.
"""

from __future__ import annotations

from alembic import op

revision = "0014_events_acted_for_sqlite"
down_revision = "0013_ssf_stream_signing_alg"
branch_labels = None
depends_on = None

# Only string ids: the lookup this replaces compared them with a string parameter.
_MEMBERS = (
    "SELECT json_extract(d.value, '$.id'), {seq} FROM json_each({delegation}) AS d "
    "WHERE json_type(d.value, '$.id') = 'text'"
)
_HAS_CHAIN = "{delegation} IS NOT NULL AND {delegation} <> '[]' AND json_valid({delegation})"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TABLE IF NOT EXISTS events_acted_for ("
        "identity_id TEXT NOT NULL, seq INTEGER NOT NULL, "
        "PRIMARY KEY (identity_id, seq)) WITHOUT ROWID"
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_events_acted_for_seq ON events_acted_for (seq)")
    new = {"seq": "new.seq", "delegation": "new.delegation"}
    op.execute(
        "CREATE TRIGGER IF NOT EXISTS events_acted_for_insert AFTER INSERT ON events "
        f"WHEN {_HAS_CHAIN.format(**new)} BEGIN "
        f"INSERT OR IGNORE INTO events_acted_for (identity_id, seq) {_MEMBERS.format(**new)}; "
        "END"
    )
    op.execute(
        "CREATE TRIGGER IF NOT EXISTS events_acted_for_delete AFTER DELETE ON events "
        "WHEN old.delegation IS NOT NULL AND old.delegation <> '[]' BEGIN "
        "DELETE FROM events_acted_for WHERE seq = old.seq; "
        "END"
    )
    op.execute(
        "INSERT OR IGNORE INTO events_acted_for (identity_id, seq) "
        "SELECT json_extract(d.value, '$.id'), e.seq FROM (SELECT seq, delegation FROM events "
        "WHERE delegation IS NOT NULL AND delegation <> '[]' AND json_valid(delegation)) AS e, "
        "json_each(e.delegation) AS d WHERE json_type(d.value, '$.id') = 'text'"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS events_acted_for_delete")
    op.execute("DROP TRIGGER IF EXISTS events_acted_for_insert")
    op.execute("DROP TABLE IF EXISTS events_acted_for")
