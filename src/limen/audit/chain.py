"""The hash chain: linking appended events in batches, in one order every reader shares.

Producers insert events unchained (``audit.record`` in their own transaction; the
database assigns ``seq``). The chainer then links whatever has committed, in batches:

* it locks the one ``audit_chain_head`` row (``SELECT … FOR UPDATE`` on PostgreSQL; on
  SQLite the writing transaction's ``BEGIN IMMEDIATE`` is the lock), so two chainers —
  two threads, two server processes — never interleave;
* it reads the unchained events that are visible (committed), oldest ``seq`` first, and
  gives each the next **chain position**, the id of the event before it and its link
  ``HMAC-SHA256(key, previous link ‖ canonical event)``.

Why a position and not ``seq``: on PostgreSQL a transaction can take ``seq`` 100, stay
open, and commit after another transaction's 101 is already visible. Anything that
pages by ``seq`` would have moved past 100. The chainer only ever sees committed rows and
commits its positions in one transaction while holding the lock, so positions become
visible strictly in order and without gaps: a reader that pages by position (the
Events-API feed, sinks, verification) can never skip an event; a late ``seq`` 100 is
simply linked in the next batch, after 101.

The canonical event is the database's own JSON rendering of the event's fields in a fixed
order (``json_array`` on SQLite, ``json_build_array`` on PostgreSQL, times as UTC text).
Letting the database render it keeps verification fast: Python only hashes one string
per event. A chain is therefore verified on the backend it was written on.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from limen.store import Database
from limen.store.models import utcnow

__all__ = [
    "GENESIS",
    "compute_link",
    "head",
    "link_pending",
    "message_rows",
]

GENESIS = bytes(32)
"""The "previous link" of the event at position 1."""

_FIELDS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_kind",
    "actor_name",
    "delegation",
    "token_id",
    "action",
    "resource_type",
    "resource_id",
    "resource_name",
    "outcome",
    "reason",
    "context",
)


def canonical_sql(backend: str) -> str:
    """SQL that renders an event row's canonical form as text."""
    if backend == "postgresql":
        columns = [
            "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
            if name == "occurred_at"
            else name
            for name in _FIELDS
        ]
        return f"json_build_array({', '.join(columns)})::text"
    return f"json_array({', '.join(_FIELDS)})"


def compute_link(
    key: bytes, previous: bytes, position: int, prev_id: str | None, canon: str
) -> bytes:
    """The link of the event at ``position``: binds its content, place and predecessor."""
    message = b"%b%d|%b|%b" % (previous, position, (prev_id or "").encode(), canon.encode())
    return hmac.digest(key, message, "sha256")


@dataclass(frozen=True, slots=True)
class Head:
    position: int
    event_id: str | None
    link: bytes
    pruned_through: int


def head(connection: sa.Connection) -> Head:
    row = connection.execute(
        sa.text(
            "SELECT position, event_id, link, pruned_through FROM audit_chain_head WHERE id = 1"
        )
    ).first()
    if row is None:
        return Head(0, None, GENESIS, 0)
    return Head(int(row[0]), row[1], bytes(row[2]) if row[2] else GENESIS, int(row[3]))


def _lock_head(connection: sa.Connection, backend: str, *, wait: bool) -> Head | None:
    # The head row may be missing on a fresh or truncated database; rebuild it from the
    # highest linked event so a lost row can never restart positions at 1.
    exists = connection.execute(sa.text("SELECT 1 FROM audit_chain_head WHERE id = 1")).first()
    if exists is None:
        last = connection.execute(
            sa.text(
                "SELECT chain_pos, id, link FROM events WHERE chain_pos IS NOT NULL "
                "ORDER BY chain_pos DESC LIMIT 1"
            )
        ).first()
        connection.execute(
            sa.text(
                "INSERT INTO audit_chain_head (id, position, event_id, link, pruned_through, "
                "updated_at) VALUES (1, :pos, :eid, :link, 0, :now) ON CONFLICT (id) DO NOTHING"
            ),
            {
                "pos": last[0] if last else 0,
                "eid": last[1] if last else None,
                "link": last[2] if last else None,
                "now": _db_now(backend),
            },
        )
    lock = ""
    if backend == "postgresql":
        lock = " FOR UPDATE" if wait else " FOR UPDATE SKIP LOCKED"
    row = connection.execute(
        sa.text(
            "SELECT position, event_id, link, pruned_through FROM audit_chain_head WHERE id = 1"  # noqa: S608
            + lock
        )
    ).first()
    if row is None:
        return None
    return Head(int(row[0]), row[1], bytes(row[2]) if row[2] else GENESIS, int(row[3]))


def _db_now(backend: str) -> object:
    now = utcnow()
    # Raw SQL bypasses the UTCDateTime type; store what it would store.
    return now.replace(tzinfo=None) if backend == "sqlite" else now


def has_pending(db: Database) -> bool:
    with db.engine.connect() as connection:
        return (
            connection.execute(
                sa.text("SELECT 1 FROM events WHERE chain_pos IS NULL LIMIT 1")
            ).first()
            is not None
        )


def link_pending(
    db: Database, key: bytes, *, batch: int = 5000, wait: bool = True, limit: int | None = None
) -> int:
    """Link every committed, unchained event; return how many were linked.

    ``wait=False`` returns at once if another chainer holds the lock (PostgreSQL) —
    the other one will link these events.
    """
    linked = 0
    while limit is None or linked < limit:
        if not has_pending(db):
            break
        count = _link_batch(db, key, batch=batch, wait=wait)
        if count == 0:
            break
        linked += count
    return linked


_UPDATE_SQLITE = "UPDATE events SET chain_pos = ?, chain_prev_id = ?, link = ? WHERE seq = ?"
_UPDATE_PG = "UPDATE events SET chain_pos = %s, chain_prev_id = %s, link = %s WHERE seq = %s"


def _link_batch(db: Database, key: bytes, *, batch: int, wait: bool) -> int:
    with db.unit_of_work() as uow:
        connection = uow.session.connection()
        locked = _lock_head(connection, db.backend, wait=wait)
        if locked is None:
            return 0
        rows = connection.execute(
            sa.text(
                f"SELECT seq, id, {canonical_sql(db.backend)} FROM events "  # noqa: S608
                "WHERE chain_pos IS NULL ORDER BY seq LIMIT :batch"
            ),
            {"batch": batch},
        ).all()
        if not rows:
            return 0
        position, prev_id, previous = locked.position, locked.event_id, locked.link
        updates = []
        for seq, event_id, canon in rows:
            position += 1
            link = compute_link(key, previous, position, prev_id, canon)
            updates.append((position, prev_id, link, seq))
            previous, prev_id = link, event_id
        # Straight to the driver's executemany: per-row parameter handling in SQLAlchemy
        # costs more than the hashing. Values are bound, never formatted into the SQL.
        sql = _UPDATE_PG if db.backend == "postgresql" else _UPDATE_SQLITE
        connection.exec_driver_sql(sql, updates)
        connection.execute(
            sa.text(
                "UPDATE audit_chain_head SET position = :pos, event_id = :eid, link = :link, "
                "updated_at = :now WHERE id = 1"
            ),
            {"pos": position, "eid": prev_id, "link": previous, "now": _db_now(db.backend)},
        )
        return len(rows)


def message_rows(
    connection: sa.Connection, backend: str, *, after: int, through: int | None = None
) -> Iterator[tuple[int, bytes | None, str]]:
    """``(position, link, message tail)`` after ``after``, in chain order, streamed.

    The tail is everything :func:`compute_link` hashes after the previous link
    (``"<position>|<previous id>|<canonical event>"``), assembled by the database so the
    verifier only hashes and compares.
    """
    canon = canonical_sql(backend)
    raw = connection.connection.dbapi_connection
    assert raw is not None
    if backend == "postgresql":
        tail = f"chain_pos::text || '|' || coalesce(chain_prev_id, '') || '|' || {canon}"
        marker = "%s"
        cursor = raw.cursor(name="limen_audit_verify")
        cursor.itersize = 10_000
    else:
        tail = f"CAST(chain_pos AS TEXT) || '|' || coalesce(chain_prev_id, '') || '|' || {canon}"
        marker = "?"
        cursor = raw.cursor()
    upper = "" if through is None else f" AND chain_pos <= {marker}"
    sql = (
        f"SELECT chain_pos, link, {tail} FROM events "  # noqa: S608 - fixed fragments only
        f"WHERE chain_pos > {marker}{upper} ORDER BY chain_pos"
    )
    try:
        cursor.execute(sql, (after,) if through is None else (after, through))
        while True:
            rows = cursor.fetchmany(10_000)
            if not rows:
                break
            yield from rows
    finally:
        cursor.close()
