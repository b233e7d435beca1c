"""Bodies of ``/v1/scim``: connecting an identity provider, as ``limen scim …``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["GroupRoles", "GroupRolesSet", "ScimTokenCreate", "ScimTokenCreated"]


class ScimTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="idp", min_length=1, max_length=200, description="e.g. okta, entra.")
    orphans: Literal["suspend", "transfer-to-manager", "keep"] | None = Field(
        default=None,
        description="What deprovisioning through this token does with the person's agents "
        "and services; unset follows LIMEN_ORPHANS.",
    )


class ScimTokenCreated(BaseModel):
    identity: str
    identity_id: str
    token_id: str
    token: str = Field(description="Shown once, here only.")
    scopes: list[str]
    base_url: str
    orphans: str | None = None


class GroupRolesSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(max_length=20, description="Limen roles its members get ([]: none).")


class GroupRoles(BaseModel):
    group: str
    id: str
    roles: list[str]
    members: list[str]
