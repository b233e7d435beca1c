"""Native policy API: ``/v1/policies`` (Cedar, both realms: ``access`` and ``admin``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from limen import access
from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded

__all__ = ["router"]

router = APIRouter(prefix="/v1/policies", tags=["policies"], route_class=Route)


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


@router.get("", response_model=PolicyList, openapi_extra=guarded("policy.read"))
def list_policies(
    services: ServicesDep,
    actor: ActorDep,
    realm: Literal["access", "admin", "schema"] | None = None,
) -> PolicyList:
    entries = services.policies.list(actor, realm=realm)
    return PolicyList(items=[PolicyPublic.from_domain(e) for e in entries])


@router.get("/{name}", response_model=PolicyPublic, openapi_extra=guarded("policy.read"))
def get_policy(name: str, services: ServicesDep, actor: ActorDep) -> PolicyPublic:
    return PolicyPublic.from_domain(services.policies.get(actor, name))


@router.put("/{name}", response_model=PolicyPublic, openapi_extra=guarded("policy.write"))
def put_policy(
    name: str, body: PolicyWrite, services: ServicesDep, actor: ActorDep
) -> PolicyPublic:
    """Create or replace a policy; 422 names the line of the first problem."""
    entry = services.policies.put(
        actor,
        name,
        body.text,
        description=body.description,
        replace=True,
        validate=body.validate_schema,
        realm=body.realm,
    )
    return PolicyPublic.from_domain(entry)


@router.delete("/{name}", status_code=204, openapi_extra=guarded("policy.write"))
def delete_policy(name: str, services: ServicesDep, actor: ActorDep) -> Response:
    services.policies.remove(actor, name)
    return Response(status_code=204)


@router.post("/validate", response_model=Validation, openapi_extra=guarded("policy.read"))
def validate(body: PolicyCheck, services: ServicesDep, actor: ActorDep) -> Validation:
    """Parse and validate without storing."""
    statements = services.policies.validate(actor, body.text, realm=body.realm)
    return Validation(valid=True, statements=statements)
