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

Scopes: ``users:read``, ``users:suspend``, ``users:reactivate`` (for all three collections).
The kill switch lives here too (``/v1/killswitch``), since partners pull it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from limen import installation, respond, tokens
from limen.api import oauth
from limen.api.deps import DatabaseDep, built_once, request_context, require_scope
from limen.api.problems import problem_response
from limen.api.routing import Route
from limen.audit import Actor, record
from limen.errors import InvalidInput
from limen.ids import is_id
from limen.store import Database, UnitOfWork
from limen.store.models import Identity, IdentityKind, IdentityStatus

__all__ = ["ERROR_PREFIX", "OAUTH_PREFIX", "killswitch_router", "render_partner_error", "router"]

router = APIRouter(prefix="/v1beta1", tags=["users api for partners"], route_class=Route)
killswitch_router = APIRouter(prefix="/v1/killswitch", tags=["kill switch"], route_class=Route)

Reader = Annotated[Actor, Depends(require_scope("users:read"))]
Suspender = Annotated[Actor, Depends(require_scope("users:suspend"))]
Reactivator = Annotated[Actor, Depends(require_scope("users:reactivate"))]

OAUTH_PREFIX = "/v1beta1/users/oauth2/"
"""Errors under this prefix are RFC 6749 §5.2 bodies, as on ``/oauth2/``."""
ERROR_PREFIX = "/v1beta1/"
_FORM = "application/x-www-form-urlencoded"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
_STATE = {IdentityStatus.ACTIVE: "ACTIVE", IdentityStatus.SUSPENDED: "SUSPENDED"}
_PAGE_TOKEN_VERSION = 1


class PartnerUser(BaseModel):
    """1Password's User object; ``kind`` and ``owner`` only on agents and services."""

    model_config = ConfigDict(extra="forbid")

    id: str
    email: str | None = None
    display_name: str
    state: Literal["STATE_UNSPECIFIED", "ACTIVE", "SUSPENDED"]
    create_time: str = Field(description="RFC 3339, UTC.")
    path: str = Field(description="accounts/<account_id>/<collection>/<id>")
    kind: str | None = None
    owner: str | None = Field(default=None, description="Id of the owning human.")


class ListUsersResponse(BaseModel):
    results: list[PartnerUser]
    next_page_token: str | None = None


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
            email=identity.email,
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


async def _this_account(request: Request, account_id: str) -> str:
    """The installation's account id, if the path names it; else 404.

    An installation's account id never changes, so it is read once per app.
    """
    state = request.app.state
    account: str | None = getattr(state, "account_id", None)
    if account is None:
        db = state.db
        account = await db.run(_read_account, db)
        state.account_id = account
    # Account ids are case-insensitive base32, like 1Password's.
    if account_id.strip().lower() != account:
        raise respond.AccountNotFound(f"no account {account_id!r} here; see `limen info`")
    return account


def _read_account(db: Database) -> str:
    with db.unit_of_work(readonly=True) as uow:
        return installation.account_id(uow.session)


Account = Annotated[str, Depends(_this_account)]


def _encode_page_token(collection: str, status: IdentityStatus | None, last: Identity) -> str:
    document = {
        "v": _PAGE_TOKEN_VERSION,
        "c": collection,
        "f": str(status) if status else "",
        "t": last.created_at.isoformat(),
        "i": last.id,
    }
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(
    token: str, collection: str, status: IdentityStatus | None
) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw)
        when = datetime.fromisoformat(document["t"])
        last_id = document["i"]
        valid = (
            document["v"] == _PAGE_TOKEN_VERSION
            and when.tzinfo is not None
            and isinstance(last_id, str)
            and is_id(last_id)
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        valid = False
    if not valid:
        raise InvalidInput("page_token is not one this server issued")
    # AIP-158: a page token continues the query that produced it, nothing else.
    if document["c"] != collection or document["f"] != (str(status) if status else ""):
        raise InvalidInput("page_token belongs to a different list or filter")
    return when, last_id


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
        db: DatabaseDep,
        actor: Reader,
        account: Account,
        filter: Annotated[str | None, Query(max_length=100)] = None,
        max_page_size: Annotated[int | None, Query()] = None,
        page_token: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> ListUsersResponse:
        size = DEFAULT_PAGE_SIZE if max_page_size is None else max_page_size
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"max_page_size must be between 1 and {MAX_PAGE_SIZE}")
        status = collection.parse_filter(filter)
        after = _decode_page_token(page_token, collection.name, status) if page_token else None
        with db.unit_of_work() as uow:
            page = respond.list_directory(
                uow.session, kind=collection.kind, status=status, after=after, limit=size
            )
            results = [collection.render(account, i) for i in page.identities]
            token = (
                _encode_page_token(collection.name, status, page.identities[-1])
                if page.more and page.identities
                else None
            )
            _note(uow, actor, "list", collection, filter=filter or "", count=len(results))
        return ListUsersResponse(results=results, next_page_token=token)

    list_identities.__name__ = f"list_{collection.name}"
    return list_identities


def _get_route(collection: _Collection) -> Callable[..., PartnerUser]:
    def get_identity(identity_id: str, db: DatabaseDep, actor: Reader, account: Account):
        with db.unit_of_work() as uow:
            found = respond.find(uow.session, identity_id, kind=str(collection.kind))
            _note(uow, actor, "get", collection, id=found.id)
            return collection.render(account, found)

    get_identity.__name__ = f"get_{collection.noun}"
    return get_identity


_STATUS_CHANGES = {
    "suspend": (respond.contain, "users:suspend"),
    "reactivate": (respond.release, "users:reactivate"),
}


def _status_route(
    collection: _Collection, verb: Literal["suspend", "reactivate"]
) -> Callable[..., PartnerUser]:
    """``…/{id}:suspend`` or ``…/{id}:reactivate``: contain or release, note it, answer."""
    change, scope = _STATUS_CHANGES[verb]

    def change_status(
        identity_id: str,
        db: DatabaseDep,
        actor: Actor = Depends(require_scope(scope)),
        account: str = Depends(_this_account),
        cascade: bool = False,
        reason: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> PartnerUser:
        with db.unit_of_work() as uow:
            done = change(
                uow, actor, identity_id, kind=str(collection.kind), reason=reason, cascade=cascade
            )
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
            return collection.render(account, done.identity)

    change_status.__name__ = f"{verb}_{collection.noun}"
    return change_status


# -- OAuth: the partner's own token and revocation endpoints ------------------------


def _partner_tokens(request: Request) -> tokens.TokenService:
    """A token service sharing the app's keys and status view, with partner lifetimes."""
    app = request.app

    def build() -> tokens.TokenService:
        base = oauth.token_service(app)
        return tokens.TokenService(
            base.db, keys=base.keys, status=base.status, ttl=respond.PARTNER_TOKEN_TTL
        )

    return built_once(app, "partner_tokens", build)


async def _form(request: Request) -> dict[str, list[str]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM:
        raise tokens.InvalidRequest(f"send the parameters as {_FORM} (RFC 6749 §3.2)")
    body = (await request.body()).decode("utf-8", errors="replace")
    return parse_qs(body, keep_blank_values=False, max_num_fields=50)


@router.post("/users/oauth2/token")
async def partner_token(request: Request) -> JSONResponse:
    """Client credentials grant for partners (HTTP Basic); a 900-second bearer token.

    1Password's endpoint takes ``scope=openid`` or nothing, meaning the client's own
    scopes; Limen also accepts a subset of the client's scopes to narrow the token.
    """
    form = await _form(request)
    service = _partner_tokens(request)
    issuer = oauth.issuer_of(request)
    endpoint = f"{issuer}{OAUTH_PREFIX}token"

    def run() -> dict[str, Any]:
        grant = form.get("grant_type") or []
        if grant != ["client_credentials"]:
            if not grant:
                raise tokens.InvalidRequest("grant_type is required")
            raise tokens.UnsupportedGrantType("partners use grant_type=client_credentials")
        asked = form.get("scope") or []
        if asked == ["openid"]:
            form.pop("scope")
        credentials = tokens.credentials_from(request.headers.get("authorization"), form)
        with service.db.reading() as reader:
            _, holder = tokens.authenticate_client(reader, credentials, token_endpoint=endpoint)
        # Fail closed: only partner integrations get the longer partner lifetime.
        if not respond.is_partner(holder):
            raise tokens.UnauthorizedClient("this endpoint is for partner integrations")
        return tokens.TokenEndpoint(service).handle(
            form,
            credentials,
            issuer=issuer,
            token_endpoint=endpoint,
            context={**request_context(request), "surface": "users-api"},
        )

    return JSONResponse(await run_in_threadpool(run), headers=_NO_STORE)


@router.post("/users/oauth2/revoke")
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
    )
    router.add_api_route(
        _base + "/{identity_id}:reactivate",
        _status_route(_c, "reactivate"),
        methods=["POST"],
        response_model=PartnerUser,
        response_model_exclude_none=True,
        summary=f"Reactivate a {_c.noun}",
    )
    router.add_api_route(
        _base + "/{identity_id}",
        _get_route(_c),
        methods=["GET"],
        response_model=PartnerUser,
        response_model_exclude_none=True,
        summary=f"Get a {_c.noun}",
    )


class KillSwitchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["agent", "service"] = "agent"
    reason: str | None = Field(default=None, max_length=1000)


class KillSwitchPublic(BaseModel):
    id: str
    kind: str
    engaged: bool
    reason: str | None
    engaged_at: datetime
    engaged_by: str
    released_at: datetime | None = None
    held: int | None = None
    suspended: list[str] | None = None
    reactivated: list[str] | None = None
    left_alone: list[str] | None = None


@killswitch_router.get("", response_model=list[KillSwitchPublic])
def kill_switches(db: DatabaseDep, actor: Reader) -> list[KillSwitchPublic]:
    with db.unit_of_work(readonly=True) as uow:
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
            for switch, held in respond.engaged_kill_switches(uow.session)
        ]


@killswitch_router.post("/engage", response_model=KillSwitchPublic)
def engage(body: KillSwitchRequest, db: DatabaseDep, actor: Suspender) -> KillSwitchPublic:
    with db.unit_of_work() as uow:
        switch, suspended = respond.engage(uow, actor, kind=body.kind, reason=body.reason)
        return KillSwitchPublic(
            id=switch.id,
            kind=switch.target_kind or "",
            engaged=True,
            reason=switch.reason,
            engaged_at=switch.engaged_at,
            engaged_by=switch.engaged_by,
            suspended=suspended,
        )


@killswitch_router.post("/disengage", response_model=KillSwitchPublic)
def disengage(body: KillSwitchRequest, db: DatabaseDep, actor: Reactivator) -> KillSwitchPublic:
    with db.unit_of_work() as uow:
        switch, back, left = respond.disengage(uow, actor, kind=body.kind, reason=body.reason)
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
