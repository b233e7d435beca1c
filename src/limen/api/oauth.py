"""The OAuth 2.0 authorization server over HTTP: token, introspection, revocation, metadata, JWKS.

A thin shell over :mod:`limen.tokens`. Errors on ``/oauth2/`` are rendered as RFC 6749
§5.2 ``{"error", "error_description"}`` (see :func:`render_oauth_error`). The issuer and
every URL the metadata names come from ``LIMEN_PUBLIC_URL``, never from the request.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from limen import identity, tokens
from limen.api.bodies import request_body
from limen.api.deps import bearer_token, current_actor, request_context, services_of
from limen.api.deps import with_request_context as _with_request_context
from limen.api.routing import PUBLIC, Route, guarded
from limen.audit import Actor
from limen.audit.durable import Write
from limen.errors import LimenError
from limen.services import Services

__all__ = ["ERROR_PREFIX", "FORM_BODY", "form_of", "render_oauth_error", "router"]

router = APIRouter(tags=["oauth"], route_class=Route)

ERROR_PREFIX = "/oauth2/"
_FORM = "application/x-www-form-urlencoded"
INTROSPECT_SCOPE = "tokens:introspect"
"""What a client is registered with to introspect tokens not issued to it (RFC 7662 §2.1)."""
FORM_BODY = request_body(_FORM)
"""``openapi_extra`` of an endpoint that takes RFC 6749 §3.2 form parameters."""
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# RFC 6749 §5.2: every token endpoint error is 400 except invalid_client (401).
_OAUTH_ERRORS = {
    "invalid-request": "invalid_request",
    "invalid-client": "invalid_client",
    "invalid-grant": "invalid_grant",
    "unauthorized-client": "unauthorized_client",
    "unsupported-grant-type": "unsupported_grant_type",
    "invalid-scope": "invalid_scope",
    "invalid-target": "invalid_target",
    "unsupported-token-type": "unsupported_token_type",
    "invalid-token": "invalid_token",
    "token-expired": "invalid_token",
    "content-too-large": "invalid_request",
}


def render_oauth_error(status: int, code: str, detail: str | None) -> Response:
    """RFC 6749 §5.2 error body for ``/oauth2/`` paths."""
    if status >= 500:
        error = "temporarily_unavailable" if status == 503 else "server_error"
    elif status == 403 and code == "denied":
        # A bearer caller the guard refused: RFC 6750 §3.1 insufficient_scope.
        error = "insufficient_scope"
    else:
        error = _OAUTH_ERRORS.get(code, "invalid_request")
        # No such endpoint, a method it does not take, a body too large to read: HTTP's own.
        if status not in (404, 405, 413):
            status = 401 if error in ("invalid_client", "invalid_token") else 400
    body: dict[str, Any] = {"error": error}
    if detail:
        body["error_description"] = detail
    return JSONResponse(body, status_code=status, headers=_NO_STORE)


async def form_of(request: Request) -> dict[str, list[str]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM:
        raise tokens.InvalidRequest(f"send the parameters as {_FORM} (RFC 6749 §3.2)")
    body = (await request.body()).decode("utf-8", errors="replace")
    return parse_qs(body, keep_blank_values=False, max_num_fields=50)


def _one_token(form: dict[str, list[str]]) -> str:
    raw = form.get("token") or []
    if len(raw) != 1:
        raise tokens.InvalidRequest("send exactly one token parameter")
    return raw[0]


async def _caller(
    request: Request, services: Services, action: str, *, token: str | None = None
) -> tuple[str | None, Actor]:
    """Authenticate an introspection or revocation caller: a client, or a bearer the
    guard allows ``action`` (or, for revocation, the token's own holder)."""
    authorization = request.headers.get("authorization")
    if authorization and authorization.split(" ", 1)[0].lower() == "bearer":
        actor = await current_actor(request)
        if token is None or bearer_token(request) != token:
            await services.guard.authorize_async(actor, action)
        return None, actor
    form = await form_of(request)
    credentials = tokens.credentials_from(authorization, form)
    endpoint = tokens.TokenEndpoint(services.tokens)

    def authenticate() -> tuple[tokens.AuthenticatedClient, tokens.ClientIdentity]:
        with services.db.reading() as reader:
            return tokens.authenticate_client(
                reader,
                credentials,
                status=services.status,
                token_endpoints=(endpoint.url, services.tokens.issuer),
                used_assertions=services.used_assertions,
            )

    # Reads only: a pooled connection found dead on the way costs a retry, not a 503.
    client, holder = await run_in_threadpool(services.db.retrying, authenticate)
    actor = Actor(
        kind=str(holder.kind),
        name=holder.name,
        identity_id=holder.id,
        scopes=frozenset(client.scopes),  # what it was registered for; see introspect
        channel="oauth",
        context={"client_id": client.client_id},
    )
    return client.client_id, _with_request_context(actor, request)


# -- routes ----------------------------------------------------------------------------


@router.post("/oauth2/token", openapi_extra={**PUBLIC, **FORM_BODY})
async def token(request: Request) -> JSONResponse:
    """RFC 6749 §3.2 token endpoint: ``client_credentials`` and RFC 8693 token exchange."""
    form = await form_of(request)
    services = services_of(request)
    endpoint = tokens.TokenEndpoint(services.tokens)
    context = request_context(request)
    authorization = request.headers.get("authorization")
    db = services.db

    if not db.dialect.serialises_writes:
        # On PostgreSQL the whole grant, its lookups and its event's commit, runs in one
        # thread: concurrent grants commit in parallel there (see TokenEndpoint._commit).
        def handle() -> dict[str, Any]:
            credentials = tokens.credentials_from(authorization, form)
            return endpoint.handle(form, credentials, context=context)

        body = await run_in_threadpool(handle)
        services.metrics.granted(_grant_type(form), surface="oauth")
        return JSONResponse(body, headers=_NO_STORE)

    refusals: list[Write] = []

    def run() -> tuple[tokens.IssuedToken, Write]:
        credentials = tokens.credentials_from(authorization, form)
        return endpoint.prepare(form, credentials, context=context, refusals=refusals)

    try:
        # Reads and a signature, done right here (see Database.run); the event goes to
        # the one writer, as SQLite's writers queue on one lock.
        issued, write = await db.run(run)
    except LimenError:
        if refusals:
            await services.events.written(refusals)
        raise
    # The token leaves only once its event is committed, together with whatever other
    # requests' events this turn of the loop gathered.
    await services.events.written([write])
    services.metrics.granted(_grant_type(form), surface="oauth")
    return JSONResponse(issued.to_response(), headers=_NO_STORE)


def _grant_type(form: dict[str, list[str]]) -> str:
    # Only a grant the endpoint supports got this far: the label's values are few.
    return form["grant_type"][0]


@router.post("/oauth2/introspect", openapi_extra={**guarded("token.introspect"), **FORM_BODY})
async def introspect(request: Request) -> JSONResponse:
    """RFC 7662 §2: ``{"active": false}`` for any token that is not valid right now.

    RFC 7662 §2.1: the caller must be authorized. A bearer token needs the
    ``tokens:introspect`` scope (and a role the guard allows it); a client registered
    with that scope (a resource server) may introspect any token; any other client only
    the tokens issued to it, and every other token is ``{"active": false}`` to it
    (§2.2: "not allowed to introspect this particular token").
    """
    services = services_of(request)
    form = await form_of(request)
    client_id, actor = await _caller(request, services, "token.introspect")
    raw = _one_token(form)
    if raw.startswith(identity.TOKEN_PREFIX):
        body = await _introspect_opaque(services, raw)
    else:
        body = tokens.introspect(services.tokens, raw)
    if (
        client_id is not None
        and body.get("client_id") != client_id
        and not actor.has_scope(INTROSPECT_SCOPE)
    ):
        body = {"active": False}
    return JSONResponse(body, headers=_NO_STORE)


async def _introspect_opaque(services: Services, raw: str) -> dict[str, Any]:
    """RFC 7662 §2.2 for one of Limen's opaque tokens."""
    try:
        step = services.opaque_tokens.begin(raw)
        if isinstance(step, identity.Pending):
            row = await services.db.first(identity.TOKEN_ROW, token_hash=step.token_hash)
            step = services.opaque_tokens.finish(step, row)
    except identity.InvalidToken:
        return {"active": False}
    body: dict[str, Any] = {
        "active": True,
        "token_type": "Bearer",
        "scope": " ".join(sorted(step.scopes)),
        "sub": step.identity_id,
        "username": step.name,
        "iss": services.tokens.issuer,
        "jti": step.token_id,
    }
    return body


@router.post("/oauth2/revoke", openapi_extra={**guarded("token.revoke"), **FORM_BODY})
async def revoke(request: Request) -> Response:
    """RFC 7009 §2: 200 with an empty body whether or not the token was valid.

    Works for every token Limen issued, JWT or opaque, whatever its identity's status.
    A client may revoke the tokens issued to it; a bearer the guard allows to revoke
    tokens may revoke any; anyone may revoke the very token they present.
    """
    services = services_of(request)
    form = await form_of(request)
    raw = _one_token(form)
    client_id, actor = await _caller(request, services, "token.revoke", token=raw)
    hints = form.get("token_type_hint") or [None]

    def run() -> None:
        with services.db.unit_of_work() as uow:
            tokens.revoke_token(
                uow, services.tokens, actor, raw, token_type_hint=hints[0], client_id=client_id
            )

    await run_in_threadpool(run)
    return Response(status_code=200, headers=_NO_STORE)


@router.get("/.well-known/oauth-authorization-server", openapi_extra=PUBLIC)
def metadata(request: Request) -> JSONResponse:
    """RFC 8414 §3 authorization server metadata."""
    return JSONResponse(tokens.server_metadata(services_of(request).tokens.issuer))


@router.get("/.well-known/jwks.json", openapi_extra=PUBLIC)
def jwks(request: Request) -> JSONResponse:
    """The signing keys' public halves (RFC 7517 §5), including recently retired ones."""
    document = services_of(request).signing_keys.jwks()
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=60"})
