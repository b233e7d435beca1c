"""OAuth clients over HTTP: ``/v1/clients`` (register, list, show, rotate, revoke).

The same domain service as ``limen client …`` (:class:`limen.tokens.Clients`). A secret
is in the response that makes it (registration, rotation) and nowhere else.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.clients import ClientCreate, ClientCreated, ClientList, ClientPublic

__all__ = ["router"]

router = APIRouter(prefix="/v1/clients", tags=["oauth clients"], route_class=Route)
_NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "", status_code=201, response_model=ClientCreated, openapi_extra=guarded("client.create")
)
def create_client(body: ClientCreate, services: ServicesDep, actor: ActorDep) -> JSONResponse:
    """Register a client for an identity; its secret is in this response only."""
    client, secret = services.clients.register(
        actor,
        body.identity,
        scopes=body.scopes,
        auth_method=body.auth_method,
        name=body.name,
        jwks=body.jwks,
    )
    _, holder = services.clients.get(actor, client.client_id)
    return _with_secret(ClientPublic.from_domain(client, holder), secret, status=201)


@router.get("", response_model=ClientList, openapi_extra=guarded("client.read"))
def list_clients(services: ServicesDep, actor: ActorDep, identity: str | None = None) -> ClientList:
    """Every client, oldest first (``identity``: only that identity's)."""
    rows = services.clients.list(actor, identity_ref=identity)
    return ClientList(items=[ClientPublic.from_domain(c, name) for c, name in rows])


@router.get("/{client_id}", response_model=ClientPublic, openapi_extra=guarded("client.read"))
def get_client(client_id: str, services: ServicesDep, actor: ActorDep) -> ClientPublic:
    return ClientPublic.from_domain(*services.clients.get(actor, client_id))


@router.post(
    "/{client_id}/rotate", response_model=ClientCreated, openapi_extra=guarded("client.rotate")
)
def rotate_client(client_id: str, services: ServicesDep, actor: ActorDep) -> JSONResponse:
    """A new secret, in this response only; the old one stops working at once."""
    client, secret = services.clients.rotate(actor, client_id)
    _, holder = services.clients.get(actor, client_id)
    return _with_secret(ClientPublic.from_domain(client, holder), secret, status=200)


@router.delete("/{client_id}", response_model=ClientPublic, openapi_extra=guarded("client.revoke"))
def revoke_client(client_id: str, services: ServicesDep, actor: ActorDep) -> ClientPublic:
    """Revoke: the client authenticates no more and its tokens stop working at once."""
    client = services.clients.revoke(actor, client_id)
    _, holder = services.clients.get(actor, client_id)
    return ClientPublic.from_domain(client, holder)


def _with_secret(public: ClientPublic, secret: str | None, *, status: int) -> JSONResponse:
    document = ClientCreated(**public.model_dump(), client_secret=secret)
    return JSONResponse(document.model_dump(mode="json"), status_code=status, headers=_NO_STORE)
