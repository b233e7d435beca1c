"""events: an identity's, a resource's newest events are index walks on both backends

Revision ID: 0019_events_recent
Revises: 0018_resource_tags
Create Date: 2026-12-06

The console shows an identity's newest events: what it did (``ix_events_actor_seq``),
what was done on its behalf, and what was done to it (``resource_type``/``resource_id``).
Each should be the newest rows of an index read backwards, stopping after a page, not
every match read and sorted (issue #19: a person whose agents act for them has thousands).

* On PostgreSQL, what was done on an identity's behalf came from a GIN index over the
  delegation chain (0009), which finds the events but in no order: every one of them was
  read and sorted. It is now the table SQLite has had since 0014, ``events_acted_for``
  (one row per identity in an event's delegation chain and event, primary key
  ``(identity_id, seq)``, so newest first is a backward walk), kept by triggers: a row
  trigger on insert (only for events with a delegation chain) and a statement trigger on
  delete (retention). Existing events are indexed here, and the GIN index, which nothing
  reads any more, is dropped: it cost every insert.
* On both, ``ix_events_resource`` gains ``seq``: ``(resource_type, resource_id, seq)``.
"""

from __future__ import annotations

from alembic import op

revision = "0019_events_recent"
down_revision = "0018_resource_tags"
branch_labels = None
depends_on = None

# The members of a delegation chain with a string id, as 0014 indexes them on SQLite.
_PG_MEMBERS = (
    "SELECT d.value ->> 'id', {seq} FROM {rows}jsonb_array_elements(CAST({delegation} AS JSONB)) "
    "AS d WHERE jsonb_typeof(d.value -> 'id') = 'string'"
)
_PG_HAS_CHAIN = (
    "{delegation} IS NOT NULL AND CAST({delegation} AS TEXT) <> '[]' "
    "AND json_typeof({delegation}) = 'array'"
)


def upgrade() -> None:
    op.create_index("ix_events_resource_seq", "events", ["resource_type", "resource_id", "seq"])
    op.drop_index("ix_events_resource", table_name="events")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE IF NOT EXISTS events_acted_for ("
        "identity_id TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (identity_id, seq))"
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_events_acted_for_seq ON events_acted_for (seq)")
    members = _PG_MEMBERS.format(seq="NEW.seq", rows="", delegation="NEW.delegation")
    op.execute(
        "CREATE OR REPLACE FUNCTION limen_events_acted_for_insert() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO events_acted_for (identity_id, seq) {members} ON CONFLICT DO NOTHING; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER events_acted_for_insert AFTER INSERT ON events FOR EACH ROW "
        f"WHEN ({_PG_HAS_CHAIN.format(delegation='NEW.delegation')}) "
        "EXECUTE FUNCTION limen_events_acted_for_insert()"
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION limen_events_acted_for_delete() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "DELETE FROM events_acted_for AS a USING gone WHERE a.seq = gone.seq; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER events_acted_for_delete AFTER DELETE ON events "
        "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
        "EXECUTE FUNCTION limen_events_acted_for_delete()"
    )
    chained = _PG_HAS_CHAIN.format(delegation="delegation")
    rows = f"(SELECT seq, delegation FROM events WHERE {chained}) AS e, "  # noqa: S608
    existing = _PG_MEMBERS.format(seq="e.seq", rows=rows, delegation="e.delegation")
    op.execute(f"INSERT INTO events_acted_for (identity_id, seq) {existing} ON CONFLICT DO NOTHING")
    op.execute("DROP INDEX IF EXISTS ix_events_acted_for")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_events_acted_for ON events "
            "USING gin ((CAST(delegation AS JSONB)) jsonb_path_ops) "
            "WITH (gin_pending_list_limit = 64)"
        )
        op.execute("DROP TRIGGER IF EXISTS events_acted_for_delete ON events")
        op.execute("DROP TRIGGER IF EXISTS events_acted_for_insert ON events")
        op.execute("DROP FUNCTION IF EXISTS limen_events_acted_for_delete()")
        op.execute("DROP FUNCTION IF EXISTS limen_events_acted_for_insert()")
        op.execute("DROP TABLE IF EXISTS events_acted_for")
    op.create_index("ix_events_resource", "events", ["resource_type", "resource_id"])
    op.drop_index("ix_events_resource_seq", table_name="events")
