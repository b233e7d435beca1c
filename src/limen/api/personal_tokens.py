"""Personal and admin tokens over HTTP: ``/v1/tokens`` (issue, list, revoke).

The value of a new token is in the creation response and nowhere else. Revoking works
for every opaque token Limen stores (admin, personal, service account, events feed).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.tokens import TokenCreate, TokenCreated, TokenList, TokenPublic
from limen.durations import parse_duration

__all__ = ["router"]

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], route_class=Route)
_NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "", status_code=201, response_model=TokenCreated, openapi_extra=guarded("token.create")
)
def create_token(body: TokenCreate, services: ServicesDep, actor: ActorDep) -> JSONResponse:
    issued = services.api_tokens.create(
        actor,
        body.identity,
        scopes=body.scopes,
        expires_in=parse_duration(body.expires_in) if body.expires_in else None,
        name=body.name,
    )
    document = TokenCreated(**TokenPublic.from_domain(issued.info).model_dump(), token=issued.token)
    return JSONResponse(document.model_dump(mode="json"), status_code=201, headers=_NO_STORE)


@router.get("", response_model=TokenList, openapi_extra=guarded("token.read"))
def list_tokens(
    services: ServicesDep,
    actor: ActorDep,
    identity: str | None = None,
    include_revoked: bool = False,
) -> TokenList:
    found = services.api_tokens.list(actor, identity_ref=identity, include_revoked=include_revoked)
    return TokenList(items=[TokenPublic.from_domain(info) for info in found])


@router.delete("/{token_id}", status_code=204, openapi_extra=guarded("token.revoke"))
def revoke_token(
    token_id: str, services: ServicesDep, actor: ActorDep, reason: str | None = None
) -> Response:
    services.api_tokens.revoke(actor, token_id, reason=reason)
    return Response(status_code=204)
