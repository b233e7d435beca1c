"""OAuth client request and response bodies (``/v1/clients``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from limen.store.models import OAuthClient

__all__ = ["ClientCreate", "ClientCreated", "ClientList", "ClientPublic"]


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identity: str = Field(
        min_length=1, max_length=320, description="Identity the client acts as: id, name or email."
    )
    scopes: list[str] = Field(
        default_factory=list, max_length=50, description="The most the client may be granted."
    )
    auth_method: Literal["client_secret_basic", "client_secret_post", "private_key_jwt"] = (
        "client_secret_basic"
    )
    jwks: dict[str, Any] | None = Field(
        default=None, description="Public JWK Set (private_key_jwt clients only)."
    )
    name: str | None = Field(default=None, max_length=200)


class ClientPublic(BaseModel):
    """A client's registration; never its secret."""

    client_id: str
    name: str | None
    identity_id: str
    identity: str
    auth_method: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_domain(cls, client: OAuthClient, identity_name: str) -> ClientPublic:
        return cls(
            client_id=client.client_id,
            name=client.name,
            identity_id=client.identity_id,
            identity=identity_name,
            auth_method=client.auth_method,
            scopes=list(client.scopes or []),
            created_at=client.created_at,
            revoked_at=client.revoked_at,
        )


class ClientCreated(ClientPublic):
    client_secret: str | None = Field(
        description="Shown once, here only (none for private_key_jwt clients)."
    )


class ClientList(BaseModel):
    items: list[ClientPublic]
