"""Cedar policy bodies (``/v1/policies``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from limen import access

__all__ = ["PolicyCheck", "PolicyList", "PolicyPublic", "PolicyWrite", "Validation"]


class PolicyWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=64 * 1024, description="Cedar policy text.")
    description: str | None = Field(default=None, max_length=1000)
    validate_schema: bool = Field(
        default=True, alias="validate", description="Validate against the realm's schema."
    )
    realm: Literal["access", "admin", "schema"] = Field(
        default="access",
        description="access: decisions for PEPs; admin: roles for Limen's own operations.",
    )


class PolicyCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=64 * 1024)
    realm: Literal["access", "admin", "schema"] = "access"


class PolicyPublic(BaseModel):
    name: str
    realm: str
    description: str | None
    text: str
    builtin: bool = False

    @classmethod
    def from_domain(cls, entry: access.PolicyEntry) -> PolicyPublic:
        return cls(
            name=entry.name,
            realm=entry.realm,
            description=entry.description,
            text=entry.text,
            builtin=entry.builtin,
        )


class PolicyList(BaseModel):
    items: list[PolicyPublic]


class Validation(BaseModel):
    valid: bool
    statements: int
