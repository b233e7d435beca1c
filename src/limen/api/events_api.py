"""1Password Events-API-compatible SIEM feed: ``/api/v2/auditevents`` and friends.

https://developer.1password.com/docs/events-api/reference — ``POST`` a reset cursor
(``limit``, ``start_time``, ``end_time``) or ``{"cursor": …}``; the answer is
``{"items", "cursor", "has_more"}``. ``GET /api/v2/auth/introspect`` tells a token's
features. Tokens come from ``limen events-token create --features …`` and carry the scopes
``events:auditevents``, ``events:itemusages``, ``events:signinattempts``.

The V1 endpoints, which 1Password still supports and its example collectors and the
Elastic integration call, answer the same: ``/api/v1/auditevents``,
``/api/v1/itemusages``, ``/api/v1/signinattempts`` and ``GET /api/auth/introspect``.
The body is read as JSON whatever its Content-Type (1Password's own examples send
``curl -d`` without one).

Errors use the Events API's own body, ``{"Error": {"Message": …}}``; a malformed request
(bad JSON, a limit out of range, a cursor this server did not issue) is a 400, as
1Password documents.

"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from limen import installation
from limen.api.bodies import ANY, JSON, json_of, request_body
from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.events_api import CursorRequest, FeedResponse, Introspection
from limen.audit import Actor, link_pending
from limen.audit.feed import FEATURES, Feature, FeedCursor
from limen.errors import BadRequest, Denied
from limen.services import Services
from limen.store.models import ApiToken

__all__ = ["ERROR_PREFIXES", "events_api_error", "link_now", "router"]

log = logging.getLogger("limen.api")

router = APIRouter(tags=["events-api"], route_class=Route)

ERROR_PREFIXES = (
    *(f"/api/{version}/{name}" for version in ("v1", "v2") for name in FEATURES),
    "/api/v2/auth/introspect",
    "/api/auth/introspect",
)


def events_api_error(status: int, code: str, detail: str | None) -> Response:
    """The Events API's error body; 1Password answers malformed requests with 400."""
    if status == 422:
        status = 400
    return JSONResponse({"Error": {"Message": detail or code}}, status_code=status)


def link_now(services: Services) -> None:
    """Link what is pending so a reader sees events appended a moment ago.

    Best effort: if another node is linking right now (PostgreSQL), it will finish the job,
    and what it has not linked yet is served on the next poll — never skipped.
    """
    keys = services.audit_keys
    if keys is not None:
        link_pending(services.db, keys.chain, wait=False)


def _serve(
    services: Services, actor: Actor, feature: Feature, body: CursorRequest | None
) -> FeedResponse:
    body = body or CursorRequest()
    if body.cursor:
        cursor = FeedCursor.decode(body.cursor, feature)
    else:
        cursor = FeedCursor.reset(
            feature, limit=body.limit, start_time=body.start_time, end_time=body.end_time
        )
    link_now(services)
    with services.db.unit_of_work(readonly=True) as uow:
        account = installation.account_id(uow.session)
    page = services.event_log.feed(actor, feature, cursor, account_id=account)
    return FeedResponse(items=list(page.items), cursor=page.cursor.encode(), has_more=page.has_more)


async def _body(request: Request) -> CursorRequest | None:
    """The request body as JSON, whatever the Content-Type; empty is a reset cursor."""
    document = await json_of(request, empty=None)  # malformed: 400, saying where
    if document is None:
        return None
    try:
        return CursorRequest.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise BadRequest(f"{where}: {first.get('msg', 'invalid')}") from None


FeedBody = Annotated[CursorRequest | None, Depends(_body)]
# A JSON cursor, whatever the Content-Type: 1Password's example collectors send none.
_FEED = {
    "response_model": FeedResponse,
    "openapi_extra": {**guarded("event.read"), **request_body(JSON, ANY, required=False)},
}


@router.post("/api/v2/auditevents", **_FEED)
@router.post("/api/v1/auditevents", **_FEED)
def auditevents(services: ServicesDep, actor: ActorDep, body: FeedBody) -> FeedResponse:
    """Audit events: every action that is not an item usage or a sign-in attempt."""
    return _serve(services, actor, "auditevents", body)


@router.post("/api/v2/itemusages", **_FEED)
@router.post("/api/v1/itemusages", **_FEED)
def itemusages(services: ServicesDep, actor: ActorDep, body: FeedBody) -> FeedResponse:
    """Item usages: every read of a secret from the vault."""
    return _serve(services, actor, "itemusages", body)


@router.post("/api/v2/signinattempts", **_FEED)
@router.post("/api/v1/signinattempts", **_FEED)
def signinattempts(services: ServicesDep, actor: ActorDep, body: FeedBody) -> FeedResponse:
    """Sign-in attempts: identities authenticating to get tokens, successful or not."""
    return _serve(services, actor, "signinattempts", body)


_INTROSPECT = {"response_model": Introspection, "openapi_extra": guarded("event.read")}


@router.get("/api/v2/auth/introspect", **_INTROSPECT)
@router.get("/api/auth/introspect", **_INTROSPECT)
def introspect(services: ServicesDep, actor: ActorDep) -> Introspection:
    """The calling token's id, issue time and features."""
    features = [f for f in FEATURES if actor.has_scope(f"events:{f}")]
    if not features:
        raise Denied("this token has no Events API feature")
    services.guard.authorize(actor, "event.read", scopes=[f"events:{f}" for f in features])
    with services.db.unit_of_work(readonly=True) as uow:
        account = installation.account_id(uow.session)
        token = uow.session.get(ApiToken, actor.token_id) if actor.token_id else None
        issued = token.created_at if token is not None else None
    return Introspection(
        uuid=actor.token_id or actor.name, issued_at=issued, features=features, account_uuid=account
    )
