"""Native policy API: ``/v1/policies`` (Cedar, both realms: ``access`` and ``admin``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.policies import (
    PolicyCheck,
    PolicyList,
    PolicyPublic,
    PolicyWrite,
    Validation,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/policies", tags=["policies"], route_class=Route)


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
