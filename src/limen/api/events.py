"""Native event log API: ``GET /v1/events`` with filters, as JSON pages or a JSON Lines
export; ``POST /v1/events``: events reported from outside (scope ``events:write``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from limen import identity as identities
from limen.api.deps import ActorDep, ServicesDep
from limen.api.events_api import link_now
from limen.api.routing import Route, guarded
from limen.api.schemas.events import EventBatchIn, EventBatchOut, EventList, EventPublic
from limen.audit import Actor, EventFilter, EventReader, Resource
from limen.audit.documents import event_document
from limen.audit.ingest import ReportedActor, ReportedEvent, ingest
from limen.errors import InvalidInput
from limen.store import Database

__all__ = ["router"]

router = APIRouter(prefix="/v1/events", tags=["events"], route_class=Route)


def _filters(db: Database, identity: str | None, **fields: object) -> EventFilter:
    identity_id = None
    if identity:
        with db.unit_of_work(readonly=True) as uow:
            identity_id = identities.get(uow.session, identity).id
    return EventFilter(identity=identity_id, **fields)  # type: ignore[arg-type]


@router.get("", response_model=EventList, openapi_extra=guarded("event.read"))
def read_events(
    services: ServicesDep,
    actor: ActorDep,
    identity: Annotated[
        str | None,
        Query(description="Id, name or email: its own events and all done on its behalf."),
    ] = None,
    actor_id: str | None = None,
    kind: Annotated[str | None, Query(description="Kind of the acting identity.")] = None,
    action: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    format: Annotated[Literal["json", "jsonl"], Query(description="jsonl: export all")] = "json",
    order: Annotated[
        Literal["oldest", "newest"],
        Query(description="newest: the `limit` latest events (oldest of them first), no cursor"),
    ] = "oldest",
) -> EventList | StreamingResponse:
    db = services.db
    reader = services.event_log
    filters = _filters(
        db,
        identity,
        actor_id=actor_id,
        kind=kind,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,
        since=since,
        until=until,
    )
    if order == "newest" and (cursor is not None or format == "jsonl"):
        raise InvalidInput("order=newest takes neither a cursor nor format=jsonl")
    link_now(services)
    if format == "jsonl":
        # Validate the first page now, so bad input is a 422, not a broken stream.
        reader.search(actor, filters, after=cursor, limit=1)
        return StreamingResponse(
            _export(reader, actor, filters, cursor), media_type="application/x-ndjson"
        )
    if order == "newest":
        page = reader.newest(actor, filters, limit=limit)
    else:
        page = reader.search(actor, filters, after=cursor, limit=limit)
    return EventList(
        items=[EventPublic.from_domain(e) for e in page.events],
        next_cursor=page.next_cursor,
        end_cursor=page.end_cursor,
    )


def _export(
    reader: EventReader, actor: Actor, filters: EventFilter, cursor: str | None
) -> Iterator[bytes]:
    while True:
        page = reader.search(actor, filters, after=cursor, limit=1000)
        lines = [json.dumps(event_document(e)) + "\n" for e in page.events]
        yield "".join(lines).encode()
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@router.post(
    "", response_model=EventBatchOut, status_code=201, openapi_extra=guarded("event.write")
)
def report_events(body: EventBatchIn, services: ServicesDep, actor: ActorDep) -> EventBatchOut:
    """Append up to 1,000 events reported by a gateway, proxy or SIEM, all or none.

    Each is an event document as ``limen audit search --jsonl`` prints it. An actor Limen
    does not know (by name) becomes an unmanaged identity of the kind the event names.
    """
    services.guard.authorize(actor, "event.write", Resource("event"))
    reported = [
        ReportedEvent(
            occurred_at=item.occurred_at,
            actor=ReportedActor(id=item.actor.id, name=item.actor.name, kind=item.actor.kind),
            action=item.action,
            delegation=[d.model_dump() for d in item.delegation],
            resource_type=item.resource.type if item.resource else None,
            resource_id=item.resource.id if item.resource else None,
            resource_name=item.resource.name if item.resource else None,
            outcome=item.outcome,
            reason=item.reason,
            context=item.context,
        )
        for item in body.events
    ]
    with services.db.unit_of_work() as uow:
        result = ingest(uow, actor, reported)
    return EventBatchOut(accepted=len(result.ids), ids=result.ids, shadow_identities=result.shadows)
