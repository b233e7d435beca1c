"""Event response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from limen.store.models import Event

__all__ = ["EventList", "EventPublic"]


class EventPublic(BaseModel):
    id: str
    seq: int
    occurred_at: datetime
    actor: dict[str, Any]
    delegation: list[dict[str, Any]]
    token_id: str | None
    action: str
    resource: dict[str, Any] | None
    outcome: str
    reason: str | None
    context: dict[str, Any]

    @classmethod
    def from_domain(cls, event: Event) -> EventPublic:
        resource = None
        if event.resource_type or event.resource_id:
            resource = {
                "type": event.resource_type,
                "id": event.resource_id,
                "name": event.resource_name,
            }
        return cls(
            id=event.id,
            seq=event.seq,
            occurred_at=event.occurred_at,
            actor={"id": event.actor_id, "kind": event.actor_kind, "name": event.actor_name},
            delegation=list(event.delegation or []),
            token_id=event.token_id,
            action=event.action,
            resource=resource,
            outcome=event.outcome,
            reason=event.reason,
            context=dict(event.context or {}),
        )


class EventList(BaseModel):
    items: list[EventPublic]
    next_cursor: str | None
