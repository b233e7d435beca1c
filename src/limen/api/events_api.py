"""1Password Events-API-compatible SIEM feed: ``/api/v2/auditevents`` and friends.

https://developer.1password.com/docs/events-api/reference — ``POST`` a reset cursor
(``limit``, ``start_time``, ``end_time``) or ``{"cursor": …}``; the answer is
``{"items", "cursor", "has_more"}``. ``GET /api/v2/auth/introspect`` tells a token's
features. Tokens come from ``limen events-token create --features …`` and carry the scopes
``events:auditevents``, ``events:itemusages``, ``events:signinattempts``.

Errors use the Events API's own body, ``{"Error": {"Message": …}}``.

"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from limen import installation
from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.audit import Actor, link_pending
from limen.audit.feed import FEATURES, Feature, FeedCursor
from limen.errors import Denied
from limen.services import Services
from limen.store.models import ApiToken

__all__ = ["ERROR_PREFIXES", "events_api_error", "link_now", "router"]

log = logging.getLogger("limen.api")

router = APIRouter(prefix="/api/v2", tags=["events-api"], route_class=Route)

ERROR_PREFIXES = tuple(f"/api/v2/{name}" for name in (*FEATURES, "auth/introspect"))


def events_api_error(status: int, code: str, detail: str | None) -> Response:
    """The Events API's error body."""
    return JSONResponse({"Error": {"Message": detail or code}}, status_code=status)


def link_now(services: Services) -> None:
    """Link what is pending so a reader sees events appended a moment ago.

    Best effort: if another node is linking right now (PostgreSQL), it will finish the job,
    and what it has not linked yet is served on the next poll — never skipped.
    """
    keys = services.audit_keys
    if keys is not None:
        link_pending(services.db, keys.chain, wait=False)


class ResetCursor(BaseModel):
    """Start a feed over: from ``start_time`` (default: the oldest event kept)."""

    model_config = ConfigDict(extra="ignore")
    limit: int | None = Field(default=None, ge=1, le=1000)
    start_time: datetime | None = None
    end_time: datetime | None = None


class CursorRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    cursor: str | None = None
    limit: int | None = Field(default=None, ge=1, le=1000)
    start_time: datetime | None = None
    end_time: datetime | None = None


class FeedResponse(BaseModel):
    items: list[dict[str, Any]]
    cursor: str
    has_more: bool


class Introspection(BaseModel):
    uuid: str
    issued_at: datetime | None
    features: list[str]
    account_uuid: str


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


FeedBody = Annotated[CursorRequest | None, Body()]


@router.post("/auditevents", response_model=FeedResponse, openapi_extra=guarded("event.read"))
def auditevents(services: ServicesDep, actor: ActorDep, body: FeedBody = None) -> FeedResponse:
    """Audit events: every action that is not an item usage or a sign-in attempt."""
    return _serve(services, actor, "auditevents", body)


@router.post("/itemusages", response_model=FeedResponse, openapi_extra=guarded("event.read"))
def itemusages(services: ServicesDep, actor: ActorDep, body: FeedBody = None) -> FeedResponse:
    """Item usages: every read of a secret from the vault."""
    return _serve(services, actor, "itemusages", body)


@router.post("/signinattempts", response_model=FeedResponse, openapi_extra=guarded("event.read"))
def signinattempts(services: ServicesDep, actor: ActorDep, body: FeedBody = None) -> FeedResponse:
    """Sign-in attempts: identities authenticating to get tokens, successful or not."""
    return _serve(services, actor, "signinattempts", body)


@router.get("/auth/introspect", response_model=Introspection, openapi_extra=guarded("event.read"))
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
