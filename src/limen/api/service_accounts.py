"""Service accounts over HTTP: ``/v1/service-accounts`` (issue, list, show, revoke).

The same functions as ``limen service-account …`` (:mod:`limen.vault.service_accounts`):
a ``service`` identity holding vault-scoped tokens. A token's value is in the response
that issues it and nowhere else.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.service_accounts import (
    ServiceAccountCreate,
    ServiceAccountCreated,
    ServiceAccountPublic,
    ServiceAccountRevoked,
    ServiceAccountTokenList,
    ServiceAccountTokenPublic,
)
from limen.durations import parse_duration

__all__ = ["router"]

router = APIRouter(prefix="/v1/service-accounts", tags=["service accounts"], route_class=Route)
_NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "",
    status_code=201,
    response_model=ServiceAccountCreated,
    openapi_extra=guarded("token.create"),
)
def create_service_account(
    body: ServiceAccountCreate, services: ServicesDep, actor: ActorDep
) -> JSONResponse:
    """Issue a vault-scoped token for a service account (made if new); the token is in
    this response only."""
    issued = services.service_accounts.create(
        actor,
        body.name,
        grants=body.vaults,
        expires_in=parse_duration(body.expires_in) if body.expires_in else None,
    )
    document = ServiceAccountCreated.from_domain(issued).model_dump(mode="json")
    return JSONResponse(document, status_code=201, headers=_NO_STORE)


@router.get("", response_model=ServiceAccountTokenList, openapi_extra=guarded("token.read"))
def list_service_accounts(services: ServicesDep, actor: ActorDep) -> ServiceAccountTokenList:
    """Every service-account token: scopes, expiry, revocation, last use (never the token)."""
    tokens = services.service_accounts.list(actor)
    return ServiceAccountTokenList(items=[ServiceAccountTokenPublic.from_domain(t) for t in tokens])


@router.get("/{ref}", response_model=ServiceAccountPublic, openapi_extra=guarded("token.read"))
def get_service_account(ref: str, services: ServicesDep, actor: ActorDep) -> ServiceAccountPublic:
    account, tokens = services.service_accounts.get(actor, ref)
    return ServiceAccountPublic(
        id=account.id,
        name=account.name,
        status=str(account.status),
        tokens=[ServiceAccountTokenPublic.from_domain(t) for t in tokens],
    )


@router.delete(
    "/{ref}", response_model=ServiceAccountRevoked, openapi_extra=guarded("token.revoke")
)
def revoke_service_account(
    ref: str, services: ServicesDep, actor: ActorDep
) -> ServiceAccountRevoked:
    """Revoke every token of a service account (by name or id), or one token (by its id)."""
    return ServiceAccountRevoked(revoked=list(services.service_accounts.revoke(actor, ref)))
