"""Native policy API: ``/v1/policies`` (Cedar), scopes ``policies:read`` / ``policies:write``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from limen import access
from limen.api.deps import DatabaseDep, require_scope
from limen.api.routing import Route
from limen.audit import Actor
from limen.store.models import Policy

__all__ = ["router"]

router = APIRouter(prefix="/v1/policies", tags=["policies"], route_class=Route)

Reader = Annotated[Actor, Depends(require_scope("policies:read"))]
Writer = Annotated[Actor, Depends(require_scope("policies:write"))]


class PolicyWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=64 * 1024, description="Cedar policy text.")
    description: str | None = Field(default=None, max_length=1000)
    validate_schema: bool = Field(
        default=True, alias="validate", description="Validate against Limen's Cedar schema."
    )


class PolicyCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=64 * 1024)


class PolicyPublic(BaseModel):
    name: str
    description: str | None
    text: str
    builtin: bool = False

    @classmethod
    def from_domain(cls, policy: Policy) -> PolicyPublic:
        return cls(name=policy.name, description=policy.description, text=policy.text)


class PolicyList(BaseModel):
    items: list[PolicyPublic]


class Validation(BaseModel):
    valid: bool
    statements: int


@router.get("", response_model=PolicyList)
def list_policies(db: DatabaseDep, actor: Reader) -> PolicyList:
    with db.unit_of_work(readonly=True) as uow:
        stored = [PolicyPublic.from_domain(p) for p in access.list_policies(uow.session)]
    builtin = [
        PolicyPublic(name=name, description="built in", text=text, builtin=True)
        for name, text in access.DEFAULT_POLICIES.items()
    ]
    return PolicyList(items=builtin + stored)


@router.get("/{name}", response_model=PolicyPublic)
def get_policy(name: str, db: DatabaseDep, actor: Reader) -> PolicyPublic:
    with db.unit_of_work(readonly=True) as uow:
        return PolicyPublic.from_domain(access.get_policy(uow.session, name))


@router.put("/{name}", response_model=PolicyPublic)
def put_policy(name: str, body: PolicyWrite, db: DatabaseDep, actor: Writer) -> PolicyPublic:
    """Create or replace a policy; 422 names the line of the first problem."""
    with db.unit_of_work() as uow:
        policy = access.add_policy(
            uow,
            actor,
            name=name,
            text=body.text,
            description=body.description,
            replace=True,
            validate=body.validate_schema,
        )
        return PolicyPublic.from_domain(policy)


@router.delete("/{name}", status_code=204)
def delete_policy(name: str, db: DatabaseDep, actor: Writer) -> Response:
    with db.unit_of_work() as uow:
        access.remove_policy(uow, actor, name)
    return Response(status_code=204)


@router.post("/validate", response_model=Validation)
def validate(body: PolicyCheck, actor: Reader) -> Validation:
    """Parse and validate without storing."""
    statements = access.validate_policy(body.text)
    return Validation(valid=True, statements=len(statements))
