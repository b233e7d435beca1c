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

from limen.audit._rangecheck import FETCH, ChainMac
from limen.store import Database
from limen.store.models import utcnow

__all__ = [
    "GENESIS",
    "RECORDED_FIELDS",
    "ChainMac",
    "compute_link",
    "head",
    "link_pending",
    "message_chunks",
    "message_sql",
]

GENESIS = bytes(32)
"""The "previous link" of the event at position 1."""

RECORDED_FIELDS = (
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
            for name in RECORDED_FIELDS
        ]
        return f"json_build_array({', '.join(columns)})::text"
    return f"json_array({', '.join(RECORDED_FIELDS)})"


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
    # Looking first keeps an idle pass from taking the write lock.
    if not has_pending(db):
        return 0
    linked = 0
    while limit is None or linked < limit:
        count = _link_batch(db, key, batch=batch, wait=wait)
        linked += count
        if count < batch:
            # Everything committed before this batch was read is linked now.
            break
    return linked


_UPDATE_SQLITE = "UPDATE events SET chain_pos = ?, chain_prev_id = ?, link = ? WHERE seq = ?"
# One statement for the whole batch: a round trip per row would cost more than the rest.
# The seq range keeps the planner on the primary key: without it, it may hash-join
# against a scan of the whole table, a cost that grows with the log.
_UPDATE_PG = (
    "UPDATE events SET chain_pos = u.pos, chain_prev_id = u.prev_id, link = u.link "
    "FROM unnest(%s::bigint[], %s::text[], %s::bytea[], %s::bigint[]) "
    "AS u(pos, prev_id, link, seq) WHERE events.seq = u.seq "
    "AND events.seq BETWEEN %s::bigint AND %s::bigint"
)


def _link_batch(db: Database, key: bytes, *, batch: int, wait: bool) -> int:
    with db.unit_of_work() as uow:
        connection = uow.session.connection()
        locked = _lock_head(connection, db.backend, wait=wait)
        if locked is None:
            return 0
        postgres = db.backend == "postgresql"
        # The driver's own cursor: rows as plain tuples, values bound, never formatted in.
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(
                f"SELECT seq, id, {canonical_sql(db.backend)} FROM events "  # noqa: S608
                f"WHERE chain_pos IS NULL ORDER BY seq LIMIT {'%s' if postgres else '?'}",
                (batch,),
            )
            rows = cursor.fetchall()
            if not rows:
                return 0
            positions, prev_ids, links, seqs = _links(ChainMac(key), locked, rows)
            if postgres:
                cursor.execute(_UPDATE_PG, (positions, prev_ids, links, seqs, min(seqs), max(seqs)))
            else:
                cursor.executemany(
                    _UPDATE_SQLITE, zip(positions, prev_ids, links, seqs, strict=True)
                )
        finally:
            cursor.close()
        connection.execute(
            sa.text(
                "UPDATE audit_chain_head SET position = :pos, event_id = :eid, link = :link, "
                "updated_at = :now WHERE id = 1"
            ),
            {
                "pos": positions[-1],
                "eid": rows[-1][1],
                "link": links[-1],
                "now": _db_now(db.backend),
            },
        )
        return len(rows)


def _links(
    mac: ChainMac, start: Head, rows: list[tuple[int, str, str]]
) -> tuple[list[int], list[str | None], list[bytes], list[int]]:
    """Positions, previous ids, links and seqs for ``rows`` linked after ``start``."""
    count = len(rows)
    positions = list(range(start.position + 1, start.position + 1 + count))
    seqs = [row[0] for row in rows]
    prev_ids: list[str | None] = [start.event_id, *(row[1] for row in rows[:-1])]
    links: list[bytes] = []
    append = links.append
    inner, outer = mac.states()
    previous = start.link
    for position, prev_id, (_, _, canon) in zip(positions, prev_ids, rows, strict=True):
        h = inner.copy()
        h.update(previous)
        h.update(b"%d|%b|%b" % (position, (prev_id or "").encode(), canon.encode()))
        o = outer.copy()
        o.update(h.digest())
        previous = o.digest()
        append(previous)
    return positions, prev_ids, links, seqs


def message_sql(backend: str, *, bounded: bool) -> str:
    """SELECT ``(position, link, message tail)`` after a position (and, if ``bounded``,
    up to one), in chain order.

    The tail is everything :func:`compute_link` hashes after the previous link
    (``"<position>|<previous id>|<canonical event>"``), assembled by the database so the
    verifier only hashes and compares.
    """
    canon = canonical_sql(backend)
    if backend == "postgresql":
        tail = f"chain_pos::text || '|' || coalesce(chain_prev_id, '') || '|' || {canon}"
        marker = "%s"
    else:
        tail = f"CAST(chain_pos AS TEXT) || '|' || coalesce(chain_prev_id, '') || '|' || {canon}"
        marker = "?"
    upper = f" AND chain_pos <= {marker}" if bounded else ""
    return (
        f"SELECT chain_pos, link, {tail} FROM events "  # noqa: S608 - fixed fragments only
        f"WHERE chain_pos > {marker}{upper} ORDER BY chain_pos"
    )


def message_chunks(
    connection: sa.Connection, backend: str, *, after: int, through: int | None = None
) -> Iterator[list[tuple[int, bytes | None, str]]]:
    """The rows of :func:`message_sql`, streamed in lists of a few thousand."""
    raw = connection.connection.dbapi_connection
    assert raw is not None
    if backend == "postgresql":
        cursor = raw.cursor(name="limen_audit_verify")
        cursor.itersize = FETCH
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(
            message_sql(backend, bounded=through is not None),
            (after,) if through is None else (after, through),
        )
        while rows := cursor.fetchmany(FETCH):
            yield rows
    finally:
        cursor.close()
