"""Event response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from limen.store.models import Event

__all__ = [
    "EventBatchIn",
    "EventBatchOut",
    "EventList",
    "EventPublic",
    "ReportedEventIn",
]


class EventPublic(BaseModel):
    id: str
    seq: int
    chain_position: int | None = Field(
        default=None, description="Position in the hash chain; null until the event is linked."
    )
    link: str | None = Field(
        default=None, description="The chain's link at this event (hex), for checking it."
    )
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
            chain_position=event.chain_pos,
            link=event.link.hex() if event.link else None,
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
    end_cursor: str | None = Field(
        default=None,
        description="Continues after this page's last event even at the end of the log "
        "(`next_cursor` is null there): what a reader following the log asks with next.",
    )


class ReportedActorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    kind: Literal["human", "agent", "service"] | None = None

    @model_validator(mode="after")
    def _named(self) -> ReportedActorIn:
        if not self.id and not self.name:
            raise ValueError("the actor needs an id or a name")
        return self


class DelegateIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, max_length=200)
    kind: str | None = Field(default=None, max_length=20)
    name: str | None = Field(default=None, max_length=200)


class ReportedResourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(default=None, max_length=100)
    id: str | None = Field(default=None, max_length=500)
    name: str | None = Field(default=None, max_length=500)


class ReportedEventIn(BaseModel):
    """One event, in the shape ``limen audit search --jsonl`` prints.

    The fields Limen assigns itself (``id``, ``seq``, ``chain_position``, ``link``,
    ``token_id``) may be present, as in an exported line, and are ignored.
    """

    model_config = ConfigDict(extra="forbid")

    occurred_at: datetime
    actor: ReportedActorIn
    delegation: list[DelegateIn] = Field(default_factory=list, max_length=10)
    action: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w.:/-]*$")
    resource: ReportedResourceIn | None = None
    outcome: Literal["success", "failure", "denied"] = "success"
    reason: str | None = Field(default=None, max_length=500)
    context: dict[str, Any] = Field(default_factory=dict)
    id: Any = None
    seq: Any = None
    chain_position: Any = None
    link: Any = None
    token_id: Any = None


class EventBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[ReportedEventIn] = Field(min_length=1, max_length=1000)


class EventBatchOut(BaseModel):
    accepted: int
    ids: list[str]
    shadow_identities: list[str]
    """Names of the unmanaged identities created for actors Limen did not know."""
