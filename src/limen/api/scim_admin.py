"""Connecting an identity provider over HTTP: ``/v1/scim`` (``limen scim …``).

The provider itself speaks SCIM 2.0 at ``/scim/v2`` (:mod:`limen.api.scim`); here an admin
issues its bearer token and maps its groups to Limen roles, through the same
:class:`limen.lifecycle.Provisioning` methods as the CLI.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.scim_admin import (
    GroupRoles,
    GroupRolesSet,
    ScimTokenCreate,
    ScimTokenCreated,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/scim", tags=["scim"], route_class=Route)


@router.post(
    "/tokens",
    status_code=201,
    response_model=ScimTokenCreated,
    openapi_extra=guarded("token.create"),
)
def create_scim_token(
    body: ScimTokenCreate, services: ServicesDep, actor: ActorDep
) -> JSONResponse:
    """A bearer token with the ``scim:write`` scope for the identity provider; its value
    is in this response only."""
    holder, token_id, raw = services.provisioning.issue_token(
        actor, body.name, orphans=body.orphans
    )
    document = ScimTokenCreated(
        identity=holder.name,
        identity_id=holder.id,
        token_id=token_id,
        token=raw,
        scopes=["scim:write"],
        base_url=services.settings.resolved_public_url.rstrip("/") + "/scim/v2",
        orphans=body.orphans,
    )
    return JSONResponse(
        document.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"}
    )


@router.put(
    "/group-roles/{group}", response_model=GroupRoles, openapi_extra=guarded("identity.update")
)
def set_group_roles(
    group: str, body: GroupRolesSet, services: ServicesDep, actor: ActorDep
) -> GroupRoles:
    """Make a provisioned group grant Limen roles; its members' roles follow at once."""
    record = services.provisioning.grant_roles(actor, group, body.roles)
    return GroupRoles(
        group=record.display_name,
        id=record.id,
        roles=list(record.roles),
        members=[name for _, name in record.members],
    )
