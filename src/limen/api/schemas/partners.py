"""Partner registration bodies (``/v1/partners``): the admin's side of the Users API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from limen.respond import Partner

__all__ = ["PartnerClient", "PartnerCreate", "PartnerCreated", "PartnerPublic", "PartnerRotate"]


class PartnerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="The partner, e.g. elastic-soar.")
    scopes: list[str] = Field(
        default_factory=lambda: ["users:read"],
        min_length=1,
        max_length=10,
        description="From users:read, users:suspend, users:reactivate, ssf:manage.",
    )


class PartnerRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str | None = Field(
        default=None, max_length=64, description="Which client (default: the newest active one)."
    )


class PartnerClient(BaseModel):
    client_id: str
    scopes: list[str]
    created_at: datetime
    revoked: bool


class PartnerPublic(BaseModel):
    id: str
    name: str
    status: str
    clients: list[PartnerClient]

    @classmethod
    def from_domain(cls, partner: Partner) -> PartnerPublic:
        row = partner.identity
        return cls(
            id=row.id,
            name=row.name,
            status=str(row.status),
            clients=[
                PartnerClient(
                    client_id=c.client_id,
                    scopes=list(c.scopes or []),
                    created_at=c.created_at,
                    revoked=c.revoked_at is not None,
                )
                for c in partner.clients
            ],
        )


class PartnerCreated(BaseModel):
    """What ``limen partner create --json`` prints: the secret is shown here once."""

    partner: str
    identity_id: str
    account_id: str
    client_id: str
    client_secret: str = Field(description="Shown once, here only.")
    scopes: list[str]
    token_endpoint: str
