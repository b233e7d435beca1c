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

The canonical event is each field, in a fixed order, as ``<length>:<text>`` (``-`` for
NULL; times as UTC ``YYYY-MM-DD HH:MM:SS.ffffff``, JSON columns as their stored text).
Both backends render it in SQL, identically, so verification stays fast (Python only
hashes one string per event) and a chain verifies on either backend after a copy. Links
before ``audit_chain_head.portable_from`` (written by earlier versions) cover the
backend's own JSON rendering instead, and verify only on the backend that wrote them.

The chainer links only rows it can vouch for: each row Limen's writers insert carries a
**seal**, an HMAC of its canonical form under a key derived from the root key file
(``audit.seal_key``). A row without a valid seal (inserted behind Limen's back) is never
linked: it is quarantined, and verification reports it as tampering.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from limen.audit._canon import (
    GENESIS,
    RECORDED_FIELDS,
    canonical_sql,
    compute_link,
    linked_form_sql,
    portable_sql,
    portable_text,
    seal,
)
from limen.audit._rangecheck import FETCH, ChainMac
from limen.audit.log import EVENTS_APPENDED
from limen.store import Database, Dialect, driver_cursor
from limen.store.models import utcnow

__all__ = [
    "GENESIS",
    "RECORDED_FIELDS",
    "ChainMac",
    "Quarantined",
    "canonical_sql",
    "compute_link",
    "head",
    "link_pending",
    "linked_form_sql",
    "links_in_backend_form",
    "message_chunks",
    "message_sql",
    "portable_sql",
    "portable_text",
    "seal",
    "vouched",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Head:
    position: int
    event_id: str | None
    link: bytes
    pruned_through: int
    portable_from: int = 1
    unsealed_through: int = 0


_HEAD_COLUMNS = "position, event_id, link, pruned_through, portable_from, unsealed_through"


def _head(row: Any) -> Head:
    return Head(
        int(row[0]),
        row[1],
        bytes(row[2]) if row[2] else GENESIS,
        int(row[3]),
        int(row[4]),
        int(row[5]),
    )


def head(connection: sa.Connection) -> Head:
    row = connection.execute(
        sa.text(f"SELECT {_HEAD_COLUMNS} FROM audit_chain_head WHERE id = 1")  # noqa: S608
    ).first()
    if row is None:
        return Head(0, None, GENESIS, 0)
    return _head(row)


def links_in_backend_form(db: Database) -> int:
    """How many linked events still carry a link over their backend's own rendering
    (written by earlier builds): those verify only on the backend that wrote them."""
    with db.engine.connect() as connection:
        portable_from = head(connection).portable_from
        if portable_from <= 1:
            return 0
        return int(
            connection.execute(
                sa.text("SELECT count(*) FROM events WHERE chain_pos < :p"), {"p": portable_from}
            ).scalar_one()
        )


def _lock_head(connection: sa.Connection, dialect: Dialect, *, wait: bool) -> Head | None:
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
                "now": dialect.bind_time(utcnow()),
            },
        )
    lock = dialect.row_lock(wait=wait)
    row = connection.execute(
        sa.text(f"SELECT {_HEAD_COLUMNS} FROM audit_chain_head WHERE id = 1" + lock)  # noqa: S608
    ).first()
    if row is None:
        return None
    return _head(row)


_PENDING = "chain_pos IS NULL AND quarantined_at IS NULL"


def has_pending(db: Database) -> bool:
    with db.engine.connect() as connection:
        return (
            connection.execute(
                sa.text(f"SELECT 1 FROM events WHERE {_PENDING} LIMIT 1")  # noqa: S608
            ).first()
            is not None
        )


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Rows the chainer would not link: (seq, id) of each."""

    rows: list[tuple[int, str]]


def link_pending(
    db: Database,
    key: bytes,
    *,
    seal_key: bytes | None = None,
    batch: int = 5000,
    wait: bool = True,
    limit: int | None = None,
) -> int:
    """Link every committed, unchained event Limen can vouch for; return how many were
    linked. Rows without a valid seal (under ``seal_key``, by default the key attached to
    ``db``) are quarantined instead.

    ``wait=False`` returns at once if another chainer holds the lock (PostgreSQL) —
    the other one will link these events.
    """
    # Looking first keeps an idle pass from taking the write lock.
    if not has_pending(db):
        return 0
    seal_key = seal_key or db.event_seal_key
    linked = 0
    while limit is None or linked < limit:
        count, seen = _link_batch(db, key, seal_key, batch=batch, wait=wait)
        linked += count
        if seen < batch:
            # Everything committed before this batch was read is linked now.
            break
    if linked:
        db.broadcaster.nudge(EVENTS_APPENDED)
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


def _link_batch(
    db: Database, key: bytes, seal_key: bytes | None, *, batch: int, wait: bool
) -> tuple[int, int]:
    """Link one batch; ``(linked, rows looked at)``."""
    with db.unit_of_work() as uow:
        connection = uow.session.connection()
        dialect = db.dialect
        locked = _lock_head(connection, dialect, wait=wait)
        if locked is None:
            return 0, 0
        mark = dialect.marker
        # The driver's own cursor: rows as plain tuples, values bound, never formatted in.
        with driver_cursor(connection) as cursor:
            cursor.execute(
                f"SELECT seq, id, {portable_sql(dialect)}, seal FROM events "  # noqa: S608
                f"WHERE {_PENDING} ORDER BY seq LIMIT {mark}",
                (batch,),
            )
            found = cursor.fetchall()
            if not found:
                return 0, 0
            rows, refused = vouched(found, seal_key, locked.unsealed_through)
            if refused:
                now = dialect.bind_time(utcnow())
                cursor.executemany(
                    f"UPDATE events SET quarantined_at = {mark} WHERE seq = {mark}",  # noqa: S608
                    [(now, seq) for seq, _ in refused],
                )
                log.warning(
                    "%d event row(s) carry no valid seal and were not linked (tampering?): %s",
                    len(refused),
                    ", ".join(event_id for _, event_id in refused[:10]),
                )
            if not rows:
                return 0, len(found)
            positions, prev_ids, links, seqs = _links(ChainMac(key), locked, rows)
            if dialect.has_arrays:
                cursor.execute(_UPDATE_PG, (positions, prev_ids, links, seqs, min(seqs), max(seqs)))
            else:
                cursor.executemany(
                    _UPDATE_SQLITE, zip(positions, prev_ids, links, seqs, strict=True)
                )
        connection.execute(
            sa.text(
                "UPDATE audit_chain_head SET position = :pos, event_id = :eid, link = :link, "
                "updated_at = :now WHERE id = 1"
            ),
            {
                "pos": positions[-1],
                "eid": rows[-1][1],
                "link": links[-1],
                "now": dialect.bind_time(utcnow()),
            },
        )
        return len(rows), len(found)


def vouched(
    found: list[Any], seal_key: bytes | None, unsealed_through: int
) -> tuple[list[tuple[int, str, str]], list[tuple[int, str]]]:
    """Split ``(seq, id, canonical, seal)`` rows into those to link and those refused."""
    rows: list[tuple[int, str, str]] = []
    refused: list[tuple[int, str]] = []
    for seq, event_id, canon, sealed in found:
        if seq <= unsealed_through or (
            seal_key is not None
            and sealed is not None
            and hmac.compare_digest(bytes(sealed), seal(seal_key, canon))
        ):
            rows.append((seq, event_id, canon))
        else:
            refused.append((seq, event_id))
    return rows, refused


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


def message_sql(dialect: Dialect, *, bounded: bool, portable_from: int = 1) -> str:
    """SELECT ``(position, link, message tail)`` after a position (and, if ``bounded``,
    up to one), in chain order.

    The tail is everything :func:`compute_link` hashes after the previous link
    (``"<position>|<previous id>|<canonical event>"``), assembled by the database so the
    verifier only hashes and compares.
    """
    canon = linked_form_sql(dialect, portable_from)
    tail = f"CAST(chain_pos AS TEXT) || '|' || coalesce(chain_prev_id, '') || '|' || {canon}"
    marker = dialect.marker
    upper = f" AND chain_pos <= {marker}" if bounded else ""
    return (
        f"SELECT chain_pos, link, {tail} FROM events "  # noqa: S608 - fixed fragments only
        f"WHERE chain_pos > {marker}{upper} ORDER BY chain_pos"
    )


def message_chunks(
    connection: sa.Connection,
    dialect: Dialect,
    *,
    after: int,
    through: int | None = None,
    portable_from: int = 1,
) -> Iterator[list[tuple[int, bytes | None, str]]]:
    """The rows of :func:`message_sql`, streamed in lists of a few thousand."""
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor = dialect.streaming_cursor(raw, "limen_audit_verify", rows=FETCH)
    try:
        cursor.execute(
            message_sql(dialect, bounded=through is not None, portable_from=portable_from),
            (after,) if through is None else (after, through),
        )
        while rows := cursor.fetchmany(FETCH):
            yield rows
    finally:
        cursor.close()
