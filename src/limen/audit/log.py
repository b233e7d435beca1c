"""Writing and reading the one event log.

Every producer calls :func:`record` inside the unit of work that made the change, so the
change and its event commit together or not at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session, aliased

from limen.audit._rows import (
    ROWS_PER_STATEMENT as _ROWS_PER_STATEMENT,
)
from limen.audit._rows import (
    Outcome,
    RecordedEvent,
    row_of,
)
from limen.audit._rows import insert_statements as _insert_statements
from limen.audit.actor import Actor
from limen.errors import InvalidInput
from limen.store import (
    Database,
    Dialect,
    StaleConnection,
    UnitOfWork,
    dialect_of,
    driver_cursor,
)
from limen.store.cursor import InvalidCursor, decode_cursor, encode_cursor
from limen.store.models import Event, Identity, events_acted_for

__all__ = [
    "EVENTS_APPENDED",
    "EventFilter",
    "EventPage",
    "Outcome",
    "RecordedEvent",
    "list_events",
    "newest_events",
    "record",
]


EVENTS_APPENDED: Final = "audit.appended"
"""The broadcaster topic nudged (``Broadcaster.nudge``) once events committed, or were
linked into the chain: who follows the log (the live detector) looks at once instead of
waiting for its next look. A nudge may be lost: followers still look from time to time."""


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    resource_type: str | None = None,
    resource_id: str | None = None,
    resource_name: str | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    reason: str | None = None,
    context: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> RecordedEvent:
    """Append one event in the caller's transaction. Never pass a secret value in
    ``reason`` or ``context``.

    The row is written with the session's next flush, query or commit — whichever comes
    first — together with every other event recorded since, as one multi-row insert:
    building ORM objects per event would cost more than everything else an append does.
    A rollback discards it with the rest of the transaction.
    """
    uow = UnitOfWork.of(session)
    if uow is not None and uow.readonly:
        # It would be rolled back with the rest: an event that silently never was.
        raise RuntimeError(f"{action!r} recorded in a read-only unit of work: open a writing one")
    row = row_of(
        actor, action, resource_type, resource_id, resource_name, outcome, reason, context, now
    )
    pending = session.info.get(_PENDING)
    if pending is None:
        session.info[_PENDING] = pending = []
    pending.append(row)
    return RecordedEvent(row[0], row[1], action, row[11])


# What event search cursors are issued for (limen.store.cursor).
_LISTING: Final = "events"
_PENDING = "limen.audit.pending"
_NUDGING = "limen.audit.nudging"


def _insert_rows(
    cursor: Any, dialect: Dialect, rows: Sequence[tuple[Any, ...]], key: bytes | None
) -> None:
    for sql, parameters in _insert_statements(dialect, rows, key):
        cursor.execute(sql, parameters)


def _write_pending(session: Session, *_: Any) -> None:
    rows = session.info.pop(_PENDING, None)
    if not rows:
        return
    connection = session.connection()
    uow = UnitOfWork.of(session)
    key = uow.database.event_seal_key if uow is not None else None
    with driver_cursor(connection) as cursor:
        _insert_rows(cursor, dialect_of(connection), rows, key)
    if uow is not None and not session.info.get(_NUDGING):
        session.info[_NUDGING] = True
        broadcaster = uow.database.broadcaster
        uow.after_commit(lambda: broadcaster.nudge(EVENTS_APPENDED))


def take_recorded(session: Session) -> list[tuple[Any, ...]]:
    """Remove and return the events recorded in ``session`` and not yet written."""
    return session.info.pop(_PENDING, None) or []


def insert_recorded(db: Database, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write events taken with :func:`take_recorded`, all or none, outside a unit of work.

    Up to 64 events are one statement, which is its own transaction: no BEGIN or COMMIT
    to send, on PostgreSQL two round trips fewer than a unit of work.
    """
    if not rows:
        return
    with db.autocommit() as connection:
        cursor = connection.cursor()
        try:
            key = db.event_seal_key
            if len(rows) <= _ROWS_PER_STATEMENT:
                _insert_rows(cursor, db.dialect, rows, key)
            else:
                cursor.execute(db.dialect.begin_write)
                try:
                    _insert_rows(cursor, db.dialect, rows, key)
                except BaseException:
                    with contextlib.suppress(Exception):  # the error that matters is the first
                        cursor.execute("ROLLBACK")
                    raise
                cursor.execute("COMMIT")
        finally:
            cursor.close()
    db.broadcaster.nudge(EVENTS_APPENDED)


async def insert_recorded_async(db: Database, rows: Sequence[tuple[Any, ...]]) -> None:
    """:func:`insert_recorded` from a coroutine on PostgreSQL: the loop goes on while the
    statement and its WAL flush are under way, and no thread is handed anything.

    A pooled connection found dead on the way (the database restarted, its backend was
    terminated) costs one more try on a fresh one, not an error: the rows carry their own
    unique ids, and they go in all at once or not at all, so if the first try did commit,
    the second is refused as a duplicate, and the rows are in.
    """
    if not rows:
        return
    try:
        await _insert_async(db, rows)
    except StaleConnection:
        try:
            await _insert_async(db, rows)
        except Exception as exc:
            if getattr(exc, "sqlstate", None) != _UNIQUE_VIOLATION:
                raise
    db.broadcaster.nudge(EVENTS_APPENDED)


_UNIQUE_VIOLATION = "23505"


async def _insert_async(db: Database, rows: Sequence[tuple[Any, ...]]) -> None:
    async with db.connection_async() as connection:
        key = db.event_seal_key
        if len(rows) <= _ROWS_PER_STATEMENT:
            for sql, parameters in _insert_statements(db.dialect, rows, key):
                await connection.execute(sql, parameters)
            return
        async with connection.transaction():
            for sql, parameters in _insert_statements(db.dialect, rows, key):
                await connection.execute(sql, parameters)


def _write_pending_before_query(state: ORMExecuteState) -> None:
    _write_pending(state.session)


def _discard_pending(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)


sa.event.listen(Session, "before_flush", _write_pending)
sa.event.listen(Session, "before_commit", _write_pending)
sa.event.listen(Session, "do_orm_execute", _write_pending_before_query)
sa.event.listen(Session, "after_rollback", _discard_pending)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What to read back. ``action`` ending in ``.*`` matches a whole family.

    ``identity`` matches events the identity did itself *and* everything done on its
    behalf (it appears in the event's ``act`` delegation chain); ``actor_id`` matches only
    what it did itself. ``kind`` is the kind of the acting identity (``human``, ``agent``,
    ``service``, ``operator``, ``system``).
    """

    actor_id: str | None = None
    identity: str | None = None
    kind: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    events: Sequence[Event]
    next_cursor: str | None
    """Where the next page starts; ``None`` when this page reached the end of the log."""
    end_cursor: str | None = None
    """Continues after this page's last event, even at the end of the log: what a reader
    following the log (``limen events list --follow``) asks with next."""


def list_events(
    session: Session, filters: EventFilter, *, after: str | None = None, limit: int = 100
) -> EventPage:
    """Events in chain order, oldest first, starting after the cursor ``after``.

    Linked events come in chain order (see :mod:`limen.audit.chain` for why that, not
    ``seq``, is the order no reader can skip in). Events not yet linked follow, by
    ``seq``, so a fresh event is visible at once; callers that page while others append
    link the pending events first (the HTTP API and ``limen audit search`` do).
    """
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000")
    position, seq = _decode_cursor(after) if after is not None else (0, None)
    conditions = _conditions(filters, session)
    chained = sa.select(Event).where(Event.chain_pos.is_not(None), Event.chain_pos > position)
    pending = sa.select(Event).where(Event.chain_pos.is_(None), Event.quarantined_at.is_(None))
    if seq is not None:
        # Events shown while pending were shown by seq; do not show them again once linked.
        chained = chained.where(Event.seq > seq)
        pending = pending.where(Event.seq > seq)
    # One statement, so one snapshot: as two, an event linked between them would be in
    # neither (not yet linked for the first, no longer pending for the second).
    both = sa.union_all(
        sa.select(chained.where(*conditions).order_by(Event.chain_pos).limit(limit + 1).subquery()),
        sa.select(pending.where(*conditions).order_by(Event.seq).limit(limit + 1).subquery()),
    ).subquery()
    found = aliased(Event, both)
    rows = list(
        session.scalars(
            sa.select(found)
            .order_by(found.chain_pos.is_(None), found.chain_pos, found.seq)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    end = _cursor_after(rows, position) if rows else after
    return EventPage(rows, end if more and rows else None, end)


def newest_events(session: Session, filters: EventFilter, *, limit: int = 100) -> EventPage:
    """The ``limit`` newest events that match, oldest of them first (as ``tail`` shows a
    file's last lines); ``end_cursor`` continues after the newest, for following."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000")
    conditions = _conditions(filters)
    if filters.identity:
        # Few events are unlinked: each is tested as their own index is read.
        conditions.append(_tested(filters.identity))
    # Unlinked events are the newest of all (the chainer links in order of seq); rows it
    # set aside (no valid seal: not written by Limen) are for verification to name.
    rows = list(
        session.scalars(
            sa.select(Event)
            .where(Event.chain_pos.is_(None), Event.quarantined_at.is_(None), *conditions)
            .order_by(Event.seq.desc())
            .limit(limit)
        )
    )
    if len(rows) < limit:
        # The chainer may link some of these between the two statements (on PostgreSQL
        # each reads its own snapshot): they come back linked, so ask for a whole page
        # and show each event once.
        shown = {event.seq for event in rows}
        linked = _newest_linked(session, filters, conditions, limit)
        rows += [event for event in linked if event.seq not in shown][: limit - len(rows)]
    rows.reverse()
    return EventPage(rows, None, _cursor_after(rows, 0) if rows else None)


_RECENT_WINDOW = 10_000
"""How many of the newest linked events :func:`newest_events` reads back, for filters
no index answers in order, before it asks the filters' own indexes instead."""


def _newest_linked(
    session: Session, filters: EventFilter, conditions: list[sa.ColumnElement[bool]], limit: int
) -> list[Event]:
    """The ``limit`` newest linked events that match, newest first.

    Where an index holds the matches newest last — an identity's (``ix_events_actor_seq``
    for what it did, ``events_acted_for`` for what was done on its behalf), an action's
    (``ix_events_action_seq``), a resource's (``ix_events_resource_seq``) — the database
    reads that index backwards and stops after ``limit`` matches, however many there are
    and however far back. Those indexes end in ``seq``, the order events were written in;
    the chain links them in that order, so the newest by ``seq`` are the newest in the
    chain, shown in chain order.
    """
    linked = Event.chain_pos.is_not(None)
    if not conditions:
        newest = sa.select(Event).where(linked).order_by(Event.chain_pos.desc()).limit(limit)
        return list(session.scalars(newest))
    if filters.identity:
        return _newest_of_identity(session, filters, limit)
    exact_action = filters.action is not None and not filters.action.endswith(".*")
    if filters.actor_id or exact_action or (filters.resource_type and filters.resource_id):
        newest = sa.select(Event).where(linked, *conditions)
        rows = list(session.scalars(newest.order_by(Event.seq.desc()).limit(limit)))
        return sorted(rows, key=_chain_order, reverse=True)
    return _newest_scanned(session, conditions, limit)


def _newest_of_identity(session: Session, filters: EventFilter, limit: int) -> list[Event]:
    """What the identity did and what was done on its behalf: the ``limit`` newest of each
    read backwards from its own index, in one statement (one snapshot), merged here."""
    who = filters.identity
    others = _conditions(filters)
    linked = Event.chain_pos.is_not(None)
    acted = events_acted_for
    own = sa.select(Event.seq).where(linked, Event.actor_id == who, *others)
    behalf = (
        sa.select(acted.c.seq)
        .join(Event, Event.seq == acted.c.seq)
        .where(acted.c.identity_id == who, linked, *others)
        # what it did on its own behalf is in the first half already
        .where(sa.or_(Event.actor_id.is_(None), Event.actor_id != who))
    )
    both = sa.union_all(
        sa.select(own.order_by(Event.seq.desc()).limit(limit).subquery()),
        sa.select(behalf.order_by(acted.c.seq.desc()).limit(limit).subquery()),
    )
    # Selected by seq alone, then read: the statement stays simple to build, and the
    # rows are at most twice the page.
    rows = sorted(
        session.scalars(sa.select(Event).where(Event.seq.in_(both))),
        key=lambda event: event.seq,
        reverse=True,
    )
    return sorted(rows[:limit], key=_chain_order, reverse=True)


def _chain_order(event: Event) -> tuple[int, int]:
    return (event.chain_pos or 0, event.seq)


def _newest_scanned(
    session: Session, conditions: list[sa.ColumnElement[bool]], limit: int
) -> list[Event]:
    """For filters no index answers in order (kind, outcome, times, a family of actions):
    the newest ``_RECENT_WINDOW`` events backwards first, where common matches are found
    at once, and only if they hold too few, the rest through whatever index the filters
    have, and a sort (``chain_pos + 0`` keeps the planner off the chain's index)."""
    newest = sa.select(Event).where(Event.chain_pos.is_not(None), *conditions)
    head = session.scalar(sa.select(sa.func.max(Event.chain_pos))) or 0
    start = head - _RECENT_WINDOW
    rows = list(
        session.scalars(
            newest.where(Event.chain_pos > start).order_by(Event.chain_pos.desc()).limit(limit)
        )
    )
    if len(rows) < limit and start > 0:
        rows += session.scalars(
            newest.where(Event.chain_pos <= start)
            .order_by((Event.chain_pos + 0).desc())
            .limit(limit - len(rows))
        )
    return rows


def last_activity(session: Session, identity_ids: Sequence[str]) -> dict[str, datetime]:
    """When each identity last acted (its newest event as the actor), for those that have.

    One index lookup per identity (``ix_events_actor_seq``, newest first), so a page of
    identities costs the same however long the log is.
    """
    if not identity_ids:
        return {}
    newest = (
        sa.select(Event.occurred_at)
        .where(Event.actor_id == Identity.id)
        .order_by(Event.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        sa.select(Identity.id, newest).where(Identity.id.in_(list(set(identity_ids))))
    )
    return {identity_id: moment for identity_id, moment in rows if moment is not None}


def _cursor_after(rows: Sequence[Event], position: int) -> str:
    # The chain position read up to and, past the linked events, the seq of the last
    # pending one shown (see list_events).
    last = rows[-1]
    if last.chain_pos is not None:
        return encode_cursor(_LISTING, [last.chain_pos, None])
    last_linked = max((r.chain_pos for r in rows if r.chain_pos is not None), default=position)
    return encode_cursor(_LISTING, [last_linked, last.seq])


def _conditions(
    filters: EventFilter, session: Session | None = None
) -> list[sa.ColumnElement[bool]]:
    """SQL for ``filters``; without a ``session``, for all of them but ``identity``."""
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.actor_id:
        conditions.append(Event.actor_id == filters.actor_id)
    if filters.identity and session is not None:
        conditions.append(_by_or_for(session, filters.identity))
    if filters.kind:
        conditions.append(Event.actor_kind == filters.kind)
    if filters.action:
        if filters.action.endswith(".*"):
            conditions.append(Event.action.startswith(filters.action[:-1], autoescape=True))
        else:
            conditions.append(Event.action == filters.action)
    if filters.resource_type:
        conditions.append(Event.resource_type == filters.resource_type)
    if filters.resource_id:
        conditions.append(Event.resource_id == filters.resource_id)
    if filters.outcome:
        if filters.outcome not in set(Outcome):
            raise InvalidInput(f"outcome must be one of {', '.join(Outcome)}")
        conditions.append(Event.outcome == filters.outcome)
    if filters.since:
        conditions.append(Event.occurred_at >= _as_utc(filters.since))
    if filters.until:
        conditions.append(Event.occurred_at < _as_utc(filters.until))
    return conditions


_FEW: Final = 1000
"""Up to this many events of an identity (what it did, what was done on its behalf),
its filter is the list of their seqs; past it, a test of each event read in order."""


def _by_or_for(session: Session, identity_id: str) -> sa.ColumnElement[bool]:
    """The identity did the event or appears in its ``act`` delegation chain.

    Both are in indexes (``ix_events_actor_seq``; ``events_acted_for``, which triggers
    keep on both backends), but in ``seq`` order, and readers page in chain order. For an
    identity with few events, the filter is the list of their seqs: a page reads those
    and sorts them, however long the log. For one with many, the planner reads the log in
    order and tests each event, and finds a page's worth soon. Which of the two is a
    count of at most :data:`_FEW` index entries of each.
    """
    acted = events_acted_for
    own = sa.select(Event.seq).where(Event.actor_id == identity_id)
    behalf = sa.select(acted.c.seq).where(acted.c.identity_id == identity_id)
    few = sa.union_all(
        sa.select(own.limit(_FEW).subquery()), sa.select(behalf.limit(_FEW).subquery())
    ).subquery()
    if (session.scalar(sa.select(sa.func.count()).select_from(few)) or 0) < _FEW:
        return Event.seq.in_(sa.union_all(own, behalf))
    return _tested(identity_id)


def _tested(identity_id: str) -> sa.ColumnElement[bool]:
    """The identity did the event or appears in its delegation chain, as a test of each
    event read."""
    acted = events_acted_for
    behalf = sa.select(acted.c.seq).where(acted.c.identity_id == identity_id)
    return sa.or_(Event.actor_id == identity_id, Event.seq.in_(behalf))


def _as_utc(moment: datetime) -> datetime:
    # A time given without a zone is read as UTC, the zone every event is stored in.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _decode_cursor(cursor: str) -> tuple[int, int | None]:
    values = decode_cursor(cursor, _LISTING)
    if len(values) != 2:
        raise InvalidCursor("invalid cursor: cursor is not one this server issued")
    position, seq = values
    if not isinstance(position, int) or position < 0 or not isinstance(seq, int | None):
        raise InvalidCursor("invalid cursor: cursor is not one this server issued")
    return position, seq
