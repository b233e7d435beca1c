"""Service-account request and response bodies (``/v1/service-accounts``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from limen.api.schemas.tokens import token_metadata
from limen.vault.service_accounts import IssuedToken, ServiceAccountToken

__all__ = [
    "ServiceAccountCreate",
    "ServiceAccountCreated",
    "ServiceAccountPublic",
    "ServiceAccountRevoked",
    "ServiceAccountTokenList",
    "ServiceAccountTokenPublic",
]


class ServiceAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1, max_length=200, description="Service account name (created if new)."
    )
    vaults: list[str] = Field(
        min_length=1,
        max_length=50,
        description="Grants: <vault>:read or <vault>:write (name or id; * for every vault).",
    )
    expires_in: str | None = Field(
        default=None, max_length=20, description="Token lifetime such as 30d, 12h (none: never)."
    )


class ServiceAccountCreated(BaseModel):
    id: str
    name: str
    token_id: str
    token: str = Field(description="The token itself: shown once, never stored.")
    scopes: list[str]
    expires_at: datetime | None

    @classmethod
    def from_domain(cls, issued: IssuedToken) -> ServiceAccountCreated:
        return cls(
            id=issued.identity_id,
            name=issued.name,
            token_id=issued.token_id,
            token=issued.token,
            scopes=list(issued.scopes),
            expires_at=issued.expires_at,
        )


class ServiceAccountTokenPublic(BaseModel):
    """A service-account token's metadata; never its value."""

    name: str
    token_id: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_domain(cls, token: ServiceAccountToken) -> ServiceAccountTokenPublic:
        return cls(
            name=token.name,
            token_id=token.token_id,
            **token_metadata(token),
        )


class ServiceAccountTokenList(BaseModel):
    items: list[ServiceAccountTokenPublic]


class ServiceAccountPublic(BaseModel):
    id: str
    name: str
    status: str
    tokens: list[ServiceAccountTokenPublic]


class ServiceAccountRevoked(BaseModel):
    revoked: list[str] = Field(description="Ids of the tokens revoked now.")
