"""Identity request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from limen.store.models import Identity

__all__ = [
    "IdentityCreate",
    "IdentityDeprovision",
    "IdentityDeprovisioned",
    "IdentityList",
    "IdentityPublic",
    "IdentityUpdate",
    "StatusChange",
]


class IdentityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["human", "agent", "service"]
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    display_name: str | None = Field(default=None, max_length=200)
    owner: str | None = Field(default=None, description="Owning human: id, name or email.")
    roles: list[str] = Field(default_factory=list, max_length=10)
    attributes: dict[str, Any] = Field(default_factory=dict)


class IdentityUpdate(BaseModel):
    """Only the fields sent change; ``null`` clears one (an agent keeps an owner)."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    owner: str | None = Field(default=None, description="Owning human: id, name or email.")
    roles: list[str] | None = Field(default=None, max_length=10)
    attributes: dict[str, Any] | None = None


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)
    cascade: bool = Field(
        default=False,
        description="Suspend (or reactivate) the agents and services the identity owns too.",
    )


class IdentityPublic(BaseModel):
    id: str
    kind: str
    name: str
    email: str | None
    display_name: str | None
    owner_id: str | None
    status: str
    status_reason: str | None
    roles: list[str]
    attributes: dict[str, Any]
    managed: bool
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime | None

    @classmethod
    def from_domain(cls, identity: Identity) -> IdentityPublic:
        return cls(
            id=identity.id,
            kind=str(identity.kind),
            name=identity.name,
            email=identity.email,
            display_name=identity.display_name,
            owner_id=identity.owner_id,
            status=str(identity.status),
            status_reason=identity.status_reason,
            roles=list(identity.roles or []),
            attributes=dict(identity.attributes or {}),
            managed=identity.managed,
            created_at=identity.created_at,
            updated_at=identity.updated_at,
            status_changed_at=identity.status_changed_at,
        )


class IdentityDeprovisioned(IdentityPublic):
    """What deprovisioning did: the identity, and what it cut off with it."""

    cascaded: list[str] = Field(description="Ids of the owned identities suspended with it.")
    revoked_tokens: int


class IdentityDeprovision(BaseModel):
    """Offboard a person by hand, as the identity provider's deprovisioning does."""

    model_config = ConfigDict(extra="forbid")

    orphans: Literal["suspend", "transfer-to-manager", "keep"] | None = Field(
        default=None,
        description="What becomes of the agents and services they own; unset follows "
        "LIMEN_ORPHANS.",
    )
    reason: str | None = Field(default=None, max_length=1000)


class IdentityList(BaseModel):
    items: list[IdentityPublic]
    next_cursor: str | None
