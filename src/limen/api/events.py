"""Native event log API: ``GET /v1/events``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from limen.api.deps import DatabaseDep, require_scope
from limen.api.schemas.events import EventList, EventPublic
from limen.audit import Actor, EventFilter, list_events

__all__ = ["router"]

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("", response_model=EventList)
def read_events(
    db: DatabaseDep,
    actor: Annotated[Actor, Depends(require_scope("events:read"))],
    actor_id: str | None = None,
    action: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventList:
    filters = EventFilter(
        actor_id=actor_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,
        since=since,
        until=until,
    )
    with db.unit_of_work(readonly=True) as uow:
        page = list_events(uow.session, filters, after=cursor, limit=limit)
        return EventList(
            items=[EventPublic.from_domain(e) for e in page.events], next_cursor=page.next_cursor
        )
