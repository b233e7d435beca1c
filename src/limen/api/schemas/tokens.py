"""Personal and admin token request and response bodies (``/v1/tokens``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from limen.identity import TokenInfo
from limen.vault.service_accounts import ServiceAccountToken

__all__ = ["TokenCreate", "TokenCreated", "TokenList", "TokenPublic", "token_metadata"]


def token_metadata(token: TokenInfo | ServiceAccountToken) -> dict[str, Any]:
    """The fields every token's public form shares (personal, admin, service account), so
    the wire form of a token's lifetime is written once."""
    return {
        "prefix": token.prefix,
        "scopes": list(token.scopes),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
    }


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identity: str = Field(min_length=1, max_length=320, description="Id, name or email.")
    scopes: list[str] = Field(default_factory=lambda: ["*"], min_length=1, max_length=50)
    expires_in: str | None = Field(
        default=None, max_length=20, description="Lifetime such as 8h, 30d (none: no expiry)."
    )
    name: str | None = Field(default=None, max_length=200)


class TokenPublic(BaseModel):
    """A token's metadata; never its value."""

    id: str
    identity_id: str
    identity: str
    purpose: str
    name: str | None
    prefix: str
    scopes: list[str]
    state: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_domain(cls, info: TokenInfo) -> TokenPublic:
        return cls(
            id=info.id,
            identity_id=info.identity_id,
            identity=info.identity_name,
            purpose=info.purpose,
            name=info.name,
            state=info.state,
            **token_metadata(info),
        )


class TokenCreated(TokenPublic):
    token: str = Field(description="The token itself: shown once, never stored.")


class TokenList(BaseModel):
    items: list[TokenPublic]
