"""Native identity API: ``/v1/identities``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.identities import (
    IdentityCreate,
    IdentityDeprovision,
    IdentityDeprovisioned,
    IdentityList,
    IdentityPublic,
    IdentityUpdate,
    StatusChange,
)
from limen.errors import InvalidInput
from limen.identity import UNCHANGED

__all__ = ["router"]

router = APIRouter(prefix="/v1/identities", tags=["identities"], route_class=Route)


@router.post(
    "",
    status_code=201,
    response_model=IdentityPublic,
    openapi_extra=guarded("identity.create"),
)
def create_identity(body: IdentityCreate, services: ServicesDep, actor: ActorDep) -> IdentityPublic:
    created = services.directory.create(
        actor,
        kind=body.kind,
        name=body.name,
        email=body.email,
        display_name=body.display_name,
        owner=body.owner,
        roles=body.roles,
        attributes=body.attributes,
    )
    return IdentityPublic.from_domain(created)


@router.get("", response_model=IdentityList, openapi_extra=guarded("identity.read"))
def list_identities(
    services: ServicesDep,
    actor: ActorDep,
    kind: str | None = None,
    status: str | None = None,
    owner: str | None = None,
    managed: Annotated[
        bool | None, Query(description="false: only the shadow identities discovery found.")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Name, display name or email contains this."),
    ] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> IdentityList:
    page = services.directory.list(
        actor,
        kind=kind,
        status=status,
        owner=owner,
        managed=managed,
        q=q,
        after=cursor,
        limit=limit,
    )
    return IdentityList(
        items=[IdentityPublic.from_domain(i) for i in page.identities],
        next_cursor=page.next_cursor,
    )


@router.get("/{ref}", response_model=IdentityPublic, openapi_extra=guarded("identity.read"))
def get_identity(ref: str, services: ServicesDep, actor: ActorDep) -> IdentityPublic:
    return IdentityPublic.from_domain(services.directory.get(actor, ref))


@router.patch("/{ref}", response_model=IdentityPublic, openapi_extra=guarded("identity.update"))
def update_identity(
    ref: str, body: IdentityUpdate, services: ServicesDep, actor: ActorDep
) -> IdentityPublic:
    """Change the display name, email, roles, owner or attributes; omitted fields stay."""
    given = body.model_fields_set
    if not given:
        raise InvalidInput(
            "nothing to change: send display_name, email, roles, owner or attributes"
        )
    updated = services.directory.update(
        actor,
        ref,
        display_name=body.display_name if "display_name" in given else UNCHANGED,
        email=body.email if "email" in given else UNCHANGED,
        roles=body.roles if "roles" in given and body.roles is not None else UNCHANGED,
        owner=body.owner if "owner" in given else UNCHANGED,
        attributes=body.attributes if "attributes" in given else UNCHANGED,
    )
    return IdentityPublic.from_domain(updated)


@router.delete(
    "/{ref}", response_model=IdentityDeprovisioned, openapi_extra=guarded("identity.delete")
)
async def delete_identity(
    ref: str, services: ServicesDep, actor: ActorDep, reason: str | None = None
) -> IdentityDeprovisioned:
    """Deprovision: suspend what it owns, revoke what it holds, keep its history. It
    cannot be reactivated; the last active admin cannot be deprovisioned (409)."""
    done = await run_in_threadpool(services.responder.deprovision, actor, ref, reason=reason)
    return IdentityDeprovisioned(
        **IdentityPublic.from_domain(done.identity).model_dump(),
        cascaded=[i.id for i in done.cascaded],
        revoked_tokens=done.revoked_tokens,
    )


@router.get("/{ref}/offboarding", response_model=None, openapi_extra=guarded("event.read"))
def offboarding(ref: str, services: ServicesDep, actor: ActorDep) -> list[dict[str, Any]]:
    """What offboarding (SCIM deprovisioning) did to a person, newest first: their agents
    and services, revoked credentials, items flagged for rotation (``limen identity
    offboarding``)."""
    return services.provisioning.offboarding(actor, ref)


@router.post("/{ref}/deprovision", response_model=None, openapi_extra=guarded("identity.delete"))
async def deprovision_person(
    ref: str, services: ServicesDep, actor: ActorDep, body: IdentityDeprovision | None = None
) -> dict[str, Any]:
    """Offboard a person by hand through the same steps as SCIM deprovisioning: their
    agents and services handled by ``orphans``, tokens, delegations and OAuth clients
    revoked, readable vault items flagged for rotation, the person deprovisioned. Answers
    the offboarding as ``GET /{ref}/offboarding`` tells it (``limen identity
    deprovision``); 409 if already deprovisioned, 422 for an agent or service."""
    given = body or IdentityDeprovision()
    return await run_in_threadpool(
        services.provisioning.deprovision,
        actor,
        ref,
        orphans=given.orphans,
        reason=given.reason,
    )


@router.post(
    "/{ref}/suspend", response_model=IdentityPublic, openapi_extra=guarded("identity.suspend")
)
def suspend_identity(
    ref: str, services: ServicesDep, actor: ActorDep, body: StatusChange | None = None
) -> IdentityPublic:
    done = services.responder.contain(
        actor, ref, reason=body.reason if body else None, cascade=bool(body and body.cascade)
    )
    return IdentityPublic.from_domain(done.identity)


@router.post(
    "/{ref}/reactivate",
    response_model=IdentityPublic,
    openapi_extra=guarded("identity.reactivate"),
)
def reactivate_identity(
    ref: str, services: ServicesDep, actor: ActorDep, body: StatusChange | None = None
) -> IdentityPublic:
    done = services.responder.release(
        actor, ref, reason=body.reason if body else None, cascade=bool(body and body.cascade)
    )
    return IdentityPublic.from_domain(done.identity)
