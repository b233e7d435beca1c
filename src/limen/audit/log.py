"""Writing and reading the one event log.

Every producer calls :func:`record` inside the unit of work that made the change, so the
change and its event commit together or not at all.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session

from limen.audit.actor import Actor
from limen.errors import InvalidInput
from limen.ids import new_id
from limen.store.models import Event, utcnow

__all__ = ["EventFilter", "EventPage", "Outcome", "RecordedEvent", "list_events", "record"]


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """What :func:`record` appended: the event's id and the facts it recorded."""

    id: str
    occurred_at: datetime
    action: str
    outcome: str


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
    merged = {"channel": actor.channel, **actor.context, **(context or {})}
    row = {
        "id": new_id(),
        "occurred_at": now or utcnow(),
        "actor_id": actor.identity_id,
        "actor_kind": actor.kind,
        "actor_name": actor.name,
        "delegation": list(actor.delegation),
        "token_id": actor.token_id,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "resource_name": resource_name,
        "outcome": str(outcome),
        "reason": reason,
        "context": merged,
    }
    session.info.setdefault(_PENDING, []).append(row)
    return RecordedEvent(row["id"], row["occurred_at"], action, row["outcome"])


_PENDING = "limen.audit.pending"
_INSERT = sa.insert(Event.__table__)
_COLUMNS = (
    "id, occurred_at, actor_id, actor_kind, actor_name, delegation, token_id, action, "
    "resource_type, resource_id, resource_name, outcome, reason, context"
)
_DRIVER_INSERT = {
    "sqlite": f"INSERT INTO events ({_COLUMNS}) VALUES ({', '.join(['?'] * 14)})",  # noqa: S608
    "postgresql": f"INSERT INTO events ({_COLUMNS}) VALUES ({', '.join(['%s'] * 14)})",  # noqa: S608
}


def _write_pending(session: Session, *_: Any) -> None:
    rows = session.info.pop(_PENDING, None)
    if not rows:
        return
    connection = session.connection()
    backend = connection.dialect.name
    sql = _DRIVER_INSERT.get(backend)
    if sql is None:
        session.execute(_INSERT, rows)
        return
    # Values in the form the column types would store them (naive UTC text on SQLite, see
    # UTCDateTime; JSON text), handed to the driver in one executemany: per-row type
    # processing in SQLAlchemy costs more than the rest of an append.
    sqlite = backend == "sqlite"
    dumps = json.dumps
    connection.exec_driver_sql(
        sql,
        [
            (
                r["id"],
                r["occurred_at"].astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
                if sqlite
                else r["occurred_at"],
                r["actor_id"],
                r["actor_kind"],
                r["actor_name"],
                dumps(r["delegation"]),
                r["token_id"],
                r["action"],
                r["resource_type"],
                r["resource_id"],
                r["resource_name"],
                r["outcome"],
                r["reason"],
                dumps(r["context"]),
            )
            for r in rows
        ],
    )


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
    conditions = _conditions(session, filters)
    chained = sa.select(Event).where(Event.chain_pos.is_not(None), Event.chain_pos > position)
    pending = sa.select(Event).where(Event.chain_pos.is_(None))
    if seq is not None:
        # Events shown while pending were shown by seq; do not show them again once linked.
        chained = chained.where(Event.seq > seq)
        pending = pending.where(Event.seq > seq)
    rows = list(
        session.scalars(chained.where(*conditions).order_by(Event.chain_pos).limit(limit + 1))
    )
    if len(rows) <= limit:
        rows += list(
            session.scalars(
                pending.where(*conditions).order_by(Event.seq).limit(limit + 1 - len(rows))
            )
        )
    more = len(rows) > limit
    rows = rows[:limit]
    if not (more and rows):
        return EventPage(rows, None)
    last = rows[-1]
    if last.chain_pos is not None:
        return EventPage(rows, f"c{last.chain_pos}")
    last_linked = max((r.chain_pos for r in rows if r.chain_pos is not None), default=position)
    return EventPage(rows, f"c{last_linked}.{last.seq}")


def _conditions(session: Session, filters: EventFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.actor_id:
        conditions.append(Event.actor_id == filters.actor_id)
    if filters.identity:
        conditions.append(
            sa.or_(
                Event.actor_id == filters.identity,
                _acted_for(session, filters.identity),
            )
        )
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


def _acted_for(session: Session, identity_id: str) -> sa.ColumnElement[bool]:
    """The identity appears in the event's ``act`` delegation chain."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.text("CAST(events.delegation AS JSONB) @> CAST(:acted_for AS JSONB)").bindparams(
            acted_for=json.dumps([{"id": identity_id}])
        )
    return sa.text(
        "EXISTS (SELECT 1 FROM json_each(events.delegation) AS d "
        "WHERE json_extract(d.value, '$.id') = :acted_for)"
    ).bindparams(acted_for=identity_id)


def _as_utc(moment: datetime) -> datetime:
    # A time given without a zone is read as UTC, the zone every event is stored in.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _decode_cursor(cursor: str) -> tuple[int, int | None]:
    body = cursor[1:] if cursor.startswith("c") else ""
    position, _, seq = body.partition(".")
    if not position.isdigit() or (seq and not seq.isdigit()):
        raise InvalidInput("the cursor is not one this server issued")
    return int(position), int(seq) if seq else None
