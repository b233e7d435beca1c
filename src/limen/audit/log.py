"""Writing and reading the one event log.

Every producer calls :func:`record` inside the unit of work that made the change, so the
change and its event commit together or not at all.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit.actor import Actor
from limen.errors import InvalidInput
from limen.store.models import Event, utcnow

__all__ = ["EventFilter", "EventPage", "Outcome", "list_events", "record"]


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


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
) -> Event:
    """Append one event. Never pass a secret value in ``reason`` or ``context``."""
    merged = {"channel": actor.channel, **actor.context, **(context or {})}
    event = Event(
        occurred_at=now or utcnow(),
        actor_id=actor.identity_id,
        actor_kind=actor.kind,
        actor_name=actor.name,
        delegation=list(actor.delegation),
        token_id=actor.token_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name,
        outcome=str(outcome),
        reason=reason,
        context=merged,
    )
    session.add(event)
    return event


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What to read back. ``action`` ending in ``.*`` matches a whole family."""

    actor_id: str | None = None
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
    """Events in log order, oldest first, starting after the cursor ``after``."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000")
    query = sa.select(Event).order_by(Event.seq).limit(limit + 1)
    if after is not None:
        query = query.where(Event.seq > _decode_cursor(after))
    if filters.actor_id:
        query = query.where(Event.actor_id == filters.actor_id)
    if filters.action:
        if filters.action.endswith(".*"):
            query = query.where(Event.action.startswith(filters.action[:-1], autoescape=True))
        else:
            query = query.where(Event.action == filters.action)
    if filters.resource_type:
        query = query.where(Event.resource_type == filters.resource_type)
    if filters.resource_id:
        query = query.where(Event.resource_id == filters.resource_id)
    if filters.outcome:
        if filters.outcome not in set(Outcome):
            raise InvalidInput(f"outcome must be one of {', '.join(Outcome)}")
        query = query.where(Event.outcome == filters.outcome)
    if filters.since:
        query = query.where(Event.occurred_at >= _as_utc(filters.since))
    if filters.until:
        query = query.where(Event.occurred_at < _as_utc(filters.until))
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return EventPage(rows, _encode_cursor(rows[-1].seq) if more and rows else None)


def _as_utc(moment: datetime) -> datetime:
    # A time given without a zone is read as UTC, the zone every event is stored in.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _encode_cursor(seq: int) -> str:
    return f"e{seq}"


def _decode_cursor(cursor: str) -> int:
    if not cursor.startswith("e") or not cursor[1:].isdigit():
        raise InvalidInput("the cursor is not one this server issued")
    return int(cursor[1:])
