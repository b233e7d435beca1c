"""Users API for Partners: ``/v1beta1/...``, in the shape of 1Password's partner API.

Security tools (SIEM, SOAR, intrusion detection) list identities and suspend or
reactivate them. The paths, parameters and user objects follow 1Password's Users API for
Partners (public preview) so that existing partner connectors can point at Limen:
https://developer.1password.com/docs/users-api/

- ``GET  /v1beta1/accounts/{account_id}/users`` ``?filter=user.isActive()|user.isSuspended()``
  ``&max_page_size=`` (1-1000, default 25) ``&page_token=`` → ``{results, next_page_token}``
- ``GET  …/users/{user_id}``, ``POST …/users/{user_id}:suspend``,
  ``POST …/users/{user_id}:reactivate``

Limen adds the same for machine identities, which 1Password's API lacks: ``…/agents``
and ``…/services``, whose objects also carry ``kind`` and ``owner``; and
``cascade=true`` on ``:suspend``/``:reactivate`` for a human's machines.

Scopes: ``users:read``, ``users:suspend``, ``users:reactivate`` (for all three collections);
the guard decides, as for every route.
The kill switch lives here too (``/v1/killswitch``), since partners pull it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from limen import respond, tokens
from limen.api import oauth
from limen.api.deps import ActorDep, ServicesDep, request_context, services_of
from limen.api.problems import problem_response
from limen.api.routing import PUBLIC, Route, guarded
from limen.api.schemas.killswitch import KillSwitchPublic, KillSwitchRequest
from limen.api.schemas.partner_users import ListUsersResponse, PartnerUser
from limen.audit import Actor, record
from limen.errors import InvalidInput
from limen.identity import page_after, page_cursor
from limen.store import UnitOfWork
from limen.store.models import Identity, IdentityKind, IdentityStatus

__all__ = ["ERROR_PREFIX", "OAUTH_PREFIX", "killswitch_router", "render_partner_error", "router"]

router = APIRouter(prefix="/v1beta1", tags=["users api for partners"], route_class=Route)
killswitch_router = APIRouter(prefix="/v1/killswitch", tags=["kill switch"], route_class=Route)

OAUTH_PREFIX = "/v1beta1/users/oauth2/"
"""Errors under this prefix are RFC 6749 §5.2 bodies, as on ``/oauth2/``."""
ERROR_PREFIX = "/v1beta1/"
_FORM = "application/x-www-form-urlencoded"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
_STATE = {IdentityStatus.ACTIVE: "ACTIVE", IdentityStatus.SUSPENDED: "SUSPENDED"}


class _Collection:
    """One listed collection: ``users`` (humans), ``agents`` or ``services``."""

    def __init__(self, name: str, noun: str, kind: IdentityKind) -> None:
        self.name = name
        self.noun = noun
        self.kind = kind

    def render(self, account: str, identity: Identity) -> PartnerUser:
        machine = self.kind is not IdentityKind.HUMAN
        return PartnerUser(
            id=identity.id,
            email=identity.email or "",
            display_name=identity.display_name or identity.name,
            state=_STATE.get(identity.status, "STATE_UNSPECIFIED"),  # type: ignore[arg-type]
            create_time=_rfc3339(identity.created_at),
            path=f"accounts/{account}/{self.name}/{identity.id}",
            kind=str(identity.kind) if machine else None,
            owner=identity.owner_id if machine else None,
        )

    def parse_filter(self, value: str | None) -> IdentityStatus | None:
        text = (value or "").replace(" ", "")
        if not text:
            return None
        for noun in {"user", self.noun}:
            if text == f"{noun}.isActive()":
                return IdentityStatus.ACTIVE
            if text == f"{noun}.isSuspended()":
                return IdentityStatus.SUSPENDED
        # The value is not echoed back: whatever was pasted into a query stays out of logs.
        raise InvalidInput(
            f"this filter is not supported; use {self.noun}.isActive() or "
            f"{self.noun}.isSuspended(), or omit it for both"
        )


COLLECTIONS = (
    _Collection("users", "user", IdentityKind.HUMAN),
    _Collection("agents", "agent", IdentityKind.AGENT),
    _Collection("services", "service", IdentityKind.SERVICE),
)


def render_partner_error(status: int, code: str, detail: str | None) -> Response:
    """Problem details with 1Password's status for bad arguments: ``InvalidArgument`` is 400."""
    return problem_response(400 if status == 422 else status, code=code, detail=detail)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _this_account(request: Request, account_id: str) -> str:
    """The installation's account id, if the path names it; else 404 (a plain ``def``:
    FastAPI runs it in its thread pool, which is where the one read of it happens)."""
    account = services_of(request).account_id
    # Account ids are case-insensitive base32, like 1Password's.
    if account_id.strip().lower() != account:
        raise respond.AccountNotFound(f"no account {account_id!r} here; see `limen info`")
    return account


Account = Annotated[str, Depends(_this_account)]


def _listing(collection: str, status: IdentityStatus | None) -> str:
    # AIP-158: a page token continues the query that produced it, nothing else.
    return f"users-api.{collection}.{status or ''}"


def _note(
    uow: UnitOfWork, actor: Actor, verb: str, collection: _Collection, **context: Any
) -> None:
    record(
        uow.session,
        actor,
        f"partner.{verb}",
        resource_type="identity" if "id" in context else collection.name,
        resource_id=context.get("id"),
        context={"surface": "users-api", "partner": actor.name, "collection": collection.name}
        | context,
    )


def _list_route(collection: _Collection) -> Callable[..., ListUsersResponse]:
    def list_identities(
        services: ServicesDep,
        actor: ActorDep,
        account: Account,
        filter: Annotated[str | None, Query(max_length=100)] = None,
        max_page_size: Annotated[int | None, Query()] = None,
        page_token: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> ListUsersResponse:
        size = DEFAULT_PAGE_SIZE if max_page_size is None else max_page_size
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"max_page_size must be between 1 and {MAX_PAGE_SIZE}")
        status = collection.parse_filter(filter)
        listing = _listing(collection.name, status)
        after = page_after(page_token, listing, name="page_token") if page_token else None
        page = services.responder.directory(
            actor, kind=collection.kind, status=status, after=after, limit=size
        )
        results = [collection.render(account, i) for i in page.identities]
        token = page_cursor(page.identities[-1], listing) if page.more and page.identities else None
        with services.db.unit_of_work() as uow:
            _note(uow, actor, "list", collection, filter=filter or "", count=len(results))
        return ListUsersResponse(results=results, next_page_token=token)

    list_identities.__name__ = f"list_{collection.name}"
    return list_identities


def _get_route(collection: _Collection) -> Callable[..., PartnerUser]:
    def get_identity(identity_id: str, services: ServicesDep, actor: ActorDep, account: Account):
        found = services.responder.find(actor, identity_id, kind=str(collection.kind))
        with services.db.unit_of_work() as uow:
            _note(uow, actor, "get", collection, id=found.id)
        return collection.render(account, found)

    get_identity.__name__ = f"get_{collection.noun}"
    return get_identity


def _status_route(
    collection: _Collection, verb: Literal["suspend", "reactivate"]
) -> Callable[..., PartnerUser]:
    """``…/{id}:suspend`` or ``…/{id}:reactivate``: contain or release, note it, answer."""

    def change_status(
        identity_id: str,
        services: ServicesDep,
        actor: ActorDep,
        account: str = Depends(_this_account),
        cascade: bool = False,
        reason: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> PartnerUser:
        def note(uow: UnitOfWork, done: respond.Contained) -> None:
            # Only a suspension revokes tokens; a reactivation never restores them.
            revoked = {"revoked_tokens": done.revoked_tokens} if verb == "suspend" else {}
            _note(
                uow,
                actor,
                verb,
                collection,
                id=done.identity.id,
                cascade=cascade,
                cascaded=[i.id for i in done.cascaded],
                **revoked,
            )

        change = services.responder.contain if verb == "suspend" else services.responder.release
        done = change(
            actor,
            identity_id,
            kind=str(collection.kind),
            reason=reason,
            cascade=cascade,
            note=note,
        )
        return collection.render(account, done.identity)

    change_status.__name__ = f"{verb}_{collection.noun}"
    return change_status


# -- OAuth: the partner's own token and revocation endpoints ------------------------


@router.post("/users/oauth2/token", openapi_extra={**PUBLIC, **oauth.FORM_BODY})
async def partner_token(request: Request) -> JSONResponse:
    """Client credentials grant for partners (HTTP Basic); a 900-second bearer token."""
    form = await oauth.form_of(request)
    services = services_of(request)
    endpoint = respond.PartnerTokenEndpoint(services.partner_tokens)
    context = {**request_context(request), "surface": "users-api"}
    authorization = request.headers.get("authorization")

    def run() -> dict[str, Any]:
        credentials = tokens.credentials_from(authorization, form)
        return endpoint.handle(form, credentials, context=context)

    body = await run_in_threadpool(run)
    services.metrics.granted("client_credentials", surface="users-api")
    return JSONResponse(body, headers=_NO_STORE)


@router.post("/users/oauth2/revoke", openapi_extra={**guarded("token.revoke"), **oauth.FORM_BODY})
async def partner_revoke(request: Request) -> Response:
    """RFC 7009 revocation with the partner's client credentials; 200 whatever the token."""
    return await oauth.revoke(request)


for _c in COLLECTIONS:
    _base = f"/accounts/{{account_id}}/{_c.name}"
    router.add_api_route(
        _base,
        _list_route(_c),
        methods=["GET"],
        response_model=ListUsersResponse,
        response_model_exclude_none=True,
        summary=f"List {_c.name}",
        openapi_extra=guarded("identity.read"),
    )
    # The :verb routes come before the plain one: ``{identity_id}`` would otherwise
    # swallow ``abc:suspend`` as an id on a GET.
    router.add_api_route(
        _base + "/{identity_id}:suspend",
        _status_route(_c, "suspend"),
        methods=["POST"],
        response_model=PartnerUser,
        response_model_exclude_none=True,
        summary=f"Suspend a {_c.noun}",
        openapi_extra=guarded("identity.suspend"),
    )
    router.add_api_route(
        _base + "/{identity_id}:reactivate",
        _status_route(_c, "reactivate"),
        methods=["POST"],
        response_model=PartnerUser,
        response_model_exclude_none=True,
        summary=f"Reactivate a {_c.noun}",
        openapi_extra=guarded("identity.reactivate"),
    )
    router.add_api_route(
        _base + "/{identity_id}",
        _get_route(_c),
        methods=["GET"],
        response_model=PartnerUser,
        response_model_exclude_none=True,
        summary=f"Get a {_c.noun}",
        openapi_extra=guarded("identity.read"),
    )


@killswitch_router.get(
    "", response_model=list[KillSwitchPublic], openapi_extra=guarded("killswitch.read")
)
def kill_switches(services: ServicesDep, actor: ActorDep) -> list[KillSwitchPublic]:
    return [
        KillSwitchPublic(
            id=switch.id,
            kind=switch.target_kind or "",
            engaged=True,
            reason=switch.reason,
            engaged_at=switch.engaged_at,
            engaged_by=switch.engaged_by,
            held=held,
        )
        for switch, held in services.responder.kill_switches(actor)
    ]


@killswitch_router.post(
    "/engage", response_model=KillSwitchPublic, openapi_extra=guarded("killswitch.engage")
)
def engage(body: KillSwitchRequest, services: ServicesDep, actor: ActorDep) -> KillSwitchPublic:
    switch, suspended = services.responder.engage(actor, kind=body.kind, reason=body.reason)
    return KillSwitchPublic(
        id=switch.id,
        kind=switch.target_kind or "",
        engaged=True,
        reason=switch.reason,
        engaged_at=switch.engaged_at,
        engaged_by=switch.engaged_by,
        suspended=suspended,
    )


@killswitch_router.post(
    "/disengage", response_model=KillSwitchPublic, openapi_extra=guarded("killswitch.disengage")
)
def disengage(body: KillSwitchRequest, services: ServicesDep, actor: ActorDep) -> KillSwitchPublic:
    switch, back, left = services.responder.disengage(actor, kind=body.kind, reason=body.reason)
    return KillSwitchPublic(
        id=switch.id,
        kind=switch.target_kind or "",
        engaged=False,
        reason=switch.reason,
        engaged_at=switch.engaged_at,
        engaged_by=switch.engaged_by,
        released_at=switch.released_at,
        reactivated=back,
        left_alone=left,
    )
