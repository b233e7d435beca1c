"""Partners, the admin's side: ``/v1/partners`` (register, list, show, rotate, disable).

The same :class:`limen.respond.Responder` methods as ``limen partner …``. A partner's own
calls (its directory, suspensions, token) are the Users API in :mod:`limen.api.partners`.
A secret is in the response that makes it and nowhere else.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from limen import installation
from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.partners import (
    PartnerCreate,
    PartnerCreated,
    PartnerPublic,
    PartnerRotate,
)
from limen.store import Database
from limen.store.models import Identity, OAuthClient

__all__ = ["router"]

router = APIRouter(prefix="/v1/partners", tags=["partners"], route_class=Route)
_NO_STORE = {"Cache-Control": "no-store"}
TOKEN_ENDPOINT = "/v1beta1/users/oauth2/token"  # noqa: S105 - a path, not a secret


def _created(db: Database, row: Identity, client: OAuthClient, secret: str) -> PartnerCreated:
    with db.unit_of_work(readonly=True) as uow:
        account = installation.account_id(uow.session)
    return PartnerCreated(
        partner=row.name,
        identity_id=row.id,
        account_id=account,
        client_id=client.client_id,
        client_secret=secret,
        scopes=list(client.scopes or []),
        token_endpoint=TOKEN_ENDPOINT,
    )


@router.post(
    "", status_code=201, response_model=PartnerCreated, openapi_extra=guarded("partner.create")
)
def create_partner(body: PartnerCreate, services: ServicesDep, actor: ActorDep) -> JSONResponse:
    """Register a partner (or give a registered one another client); the secret is in
    this response only."""
    row, client, secret = services.responder.register_partner(actor, body.name, scopes=body.scopes)
    document = _created(services.db, row, client, secret).model_dump(mode="json")
    return JSONResponse(document, status_code=201, headers=_NO_STORE)


@router.get("", response_model=list[PartnerPublic], openapi_extra=guarded("partner.read"))
def list_partners(services: ServicesDep, actor: ActorDep) -> list[PartnerPublic]:
    return [PartnerPublic.from_domain(p) for p in services.responder.list_partners(actor)]


@router.get("/{ref}", response_model=PartnerPublic, openapi_extra=guarded("partner.read"))
def get_partner(ref: str, services: ServicesDep, actor: ActorDep) -> PartnerPublic:
    return PartnerPublic.from_domain(services.responder.get_partner(actor, ref))


@router.post(
    "/{ref}/rotate", response_model=PartnerCreated, openapi_extra=guarded("partner.rotate")
)
def rotate_partner(
    ref: str, services: ServicesDep, actor: ActorDep, body: PartnerRotate | None = None
) -> JSONResponse:
    """A new secret for the partner's client (same client id); the old secret stops
    working at once. The secret is in this response only."""
    partner, client, secret = services.responder.rotate_partner(
        actor, ref, client_id=body.client_id if body else None
    )
    document = _created(services.db, partner.identity, client, secret).model_dump(mode="json")
    return JSONResponse(document, headers=_NO_STORE)


@router.delete("/{ref}", response_model=PartnerPublic, openapi_extra=guarded("partner.revoke"))
def disable_partner(ref: str, services: ServicesDep, actor: ActorDep) -> PartnerPublic:
    """Revoke every client of the partner: its secrets and tokens stop working at once."""
    return PartnerPublic.from_domain(services.responder.revoke_partner(actor, ref))
