"""Events reported from outside: gateways, MCP proxies, database proxies, SIEMs.

``POST /v1/events`` hands a batch of event documents (the shape ``limen audit search
--jsonl`` prints) to :func:`ingest`, which appends each to the one log in one transaction:
all of the batch or none. The reported actor is the event's actor; the reporter (the
token's identity) is named in ``context.reported_by``. An actor named by a name Limen does
not know becomes an unmanaged (shadow) identity of the kind the event names, so it can be
seen, owned, suspended and scored like any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from limen.audit.actor import Actor
from limen.audit.log import Outcome, record
from limen.errors import InvalidInput
from limen.store import UnitOfWork

__all__ = [
    "INGEST_KINDS",
    "MAX_BATCH",
    "RESERVED_FAMILIES",
    "IngestResult",
    "ReportedActor",
    "ReportedEvent",
    "ingest",
]

MAX_BATCH: Final = 1000
"""The most events one batch may carry."""
INGEST_KINDS: Final = ("human", "agent", "service")
MAX_CONTEXT_BYTES: Final = 4096
_FUTURE: Final = timedelta(minutes=5)
_CHANNEL: Final = "ingest"
# Limen's own record of what it did: a reporter cannot claim a suspension or an alert.
RESERVED_FAMILIES: Final = (
    "identity.",
    "containment.",
    "killswitch.",
    "alert.",
    "playbook.",
    "threat.",
    "audit.",
)


@dataclass(frozen=True, slots=True)
class ReportedActor:
    id: str | None = None
    name: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class ReportedEvent:
    """One event as a reporter sends it (already shape-checked by the shell)."""

    occurred_at: datetime
    actor: ReportedActor
    action: str
    delegation: Sequence[Mapping[str, Any]] = ()
    resource_type: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    outcome: str = "success"
    reason: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IngestResult:
    ids: list[str]
    """The new events' ids, in the batch's order."""
    shadows: list[str]
    """Names of the unmanaged identities created for actors Limen did not know."""


def ingest(
    uow: UnitOfWork,
    reporter: Actor,
    events: Sequence[ReportedEvent],
    *,
    now: datetime | None = None,
) -> IngestResult:
    """Append ``events`` (at most :data:`MAX_BATCH`) in the caller's unit of work.

    Raises :class:`InvalidInput` naming the first bad item (``events[3].actor.id: …``).
    """
    from limen import identity  # identity records its events through this package

    if not events:
        raise InvalidInput("events: send at least one event")
    if len(events) > MAX_BATCH:
        raise InvalidInput(f"events: at most {MAX_BATCH} events per batch, got {len(events)}")
    session = uow.session
    moment = now or datetime.now(UTC)
    resolved: dict[tuple[str | None, str | None], Any] = {}
    shadows: list[str] = []
    ids: list[str] = []
    reporter_ref = {"id": reporter.identity_id, "name": reporter.name}
    for index, event in enumerate(events):
        where = f"events[{index}]"
        when = _utc(event.occurred_at)
        if when > moment + _FUTURE:
            raise InvalidInput(f"{where}.occurred_at: {when.isoformat()} is in the future")
        if event.action.startswith(RESERVED_FAMILIES):
            raise InvalidInput(
                f"{where}.action: {event.action!r} is one of Limen's own actions; "
                "report what happened in your own names (tool.call, db.query, …)"
            )
        if event.outcome not in {o.value for o in Outcome}:
            raise InvalidInput(f"{where}.outcome: must be success, failure or denied")
        context = dict(event.context)
        if len(json.dumps(context, default=str)) > MAX_CONTEXT_BYTES:
            raise InvalidInput(f"{where}.context: larger than {MAX_CONTEXT_BYTES} bytes")
        key = (event.actor.id, event.actor.name)
        row = resolved.get(key)
        if row is None:
            row = _actor(uow, reporter, event.actor, where, identity, shadows)
            resolved[key] = row
        actor = Actor(
            kind=str(row.kind),
            name=row.name,
            identity_id=row.id,
            delegation=tuple(_delegate(d) for d in event.delegation),
            channel=_CHANNEL,
        )
        context["reported_by"] = reporter_ref
        recorded = record(
            session,
            actor,
            event.action,
            resource_type=event.resource_type,
            resource_id=event.resource_id,
            resource_name=event.resource_name,
            outcome=Outcome(event.outcome),
            reason=event.reason,
            context=context,
            now=when,
        )
        ids.append(recorded.id)
    return IngestResult(ids=ids, shadows=shadows)


def _actor(
    uow: UnitOfWork,
    reporter: Actor,
    reported: ReportedActor,
    where: str,
    identity: Any,
    shadows: list[str],
) -> Any:
    session = uow.session
    if reported.id:
        try:
            row = identity.get(session, reported.id)
        except identity.IdentityNotFound:
            if not reported.name:
                raise InvalidInput(
                    f"{where}.actor.id: no identity {reported.id!r}; name an unknown actor "
                    "by actor.name so Limen can track it"
                ) from None
        else:
            return _same_kind(row, reported, where)
    if not reported.name:
        raise InvalidInput(f"{where}.actor: needs an id or a name")
    try:
        return _same_kind(identity.get(session, reported.name), reported, where)
    except identity.IdentityNotFound:
        pass
    kind = reported.kind
    if kind not in INGEST_KINDS:
        raise InvalidInput(
            f"{where}.actor.kind: an actor Limen does not know needs a kind "
            f"({', '.join(INGEST_KINDS)})"
        )
    try:
        row = identity.create(
            uow,
            reporter,
            kind=kind,
            name=reported.name,
            managed=False,
            attributes={"discovered_by": "events", "reported_by": reporter.name},
        )
    except InvalidInput as exc:
        raise InvalidInput(f"{where}.actor.name: {exc.detail}") from None
    shadows.append(row.name)
    return row


def _same_kind(row: Any, reported: ReportedActor, where: str) -> Any:
    if reported.kind and reported.kind != str(row.kind):
        raise InvalidInput(
            f"{where}.actor.kind: {row.name!r} is a {row.kind}, not a {reported.kind}"
        )
    return row


def _delegate(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": entry.get("id"), "kind": entry.get("kind"), "name": entry.get("name")}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
