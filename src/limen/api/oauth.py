"""The OAuth 2.0 authorization server over HTTP: token, introspection, revocation, metadata, JWKS.

A thin shell over :mod:`limen.tokens`. Errors on ``/oauth2/`` are rendered as RFC 6749
§5.2 ``{"error", "error_description"}`` (see :func:`render_oauth_error`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from limen import tokens
from limen.api.deps import (
    _with_request_context,
    built_once,
    get_actor,
    request_context,
    status_view,
)
from limen.api.routing import Route
from limen.audit import Actor
from limen.audit.durable import Write, event_writer
from limen.errors import Denied, LimenError, Unavailable
from limen.keyfile import read_key_file
from limen.store import Database

__all__ = [
    "ERROR_PREFIX",
    "jwt_authenticator",
    "render_oauth_error",
    "router",
    "token_service",
]

router = APIRouter(tags=["oauth"], route_class=Route)

ERROR_PREFIX = "/oauth2/"
_FORM = "application/x-www-form-urlencoded"
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
    "content-too-large": "invalid_request",
}


def render_oauth_error(status: int, code: str, detail: str | None) -> Response:
    """RFC 6749 §5.2 error body for ``/oauth2/`` paths."""
    if status >= 500:
        error = "temporarily_unavailable" if status == 503 else "server_error"
    else:
        error = _OAUTH_ERRORS.get(code, "invalid_request")
        status = 401 if error in ("invalid_client", "invalid_token") else 400
    body: dict[str, Any] = {"error": error}
    if detail:
        body["error_description"] = detail
    return JSONResponse(body, status_code=status, headers=_NO_STORE)


# -- wiring: one token service per app, built on first use ---------------------------


def token_service(app: FastAPI) -> tokens.TokenService:
    """The app's :class:`limen.tokens.TokenService` (keys opened with the root key file)."""
    return built_once(app, "tokens", lambda: _build_token_service(app))


def _build_token_service(app: FastAPI) -> tokens.TokenService:
    settings = app.state.settings
    if settings.key_passphrase is not None and settings.key_file is None:
        raise Unavailable(
            "token signing needs the root key file; passphrase-only setups are "
            "not supported by the token service yet"
        )
    db: Database = app.state.db
    keys = tokens.SigningKeys(
        db,
        root_key=read_key_file(settings.resolved_key_file),
        max_token_ttl=settings.access_token_ttl,
    )
    return tokens.TokenService(
        db, keys=keys, status=status_view(app), ttl=settings.access_token_ttl
    )


def issuer_of(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def jwt_authenticator(db: Database, raw: str, request: Request) -> Actor | None:
    """Limen's JWT access tokens as bearer tokens on every route.

    Only tokens for Limen's own API (``aud`` = issuer) are accepted here; a token minted
    for another resource is refused, as RFC 8707 intends.
    """
    if raw.count(".") != 2 or not raw.startswith("eyJ"):
        return None
    service = token_service(request.app)
    claims = service.verify(raw)
    return service.actor_for(claims)


async def _form(request: Request) -> dict[str, list[str]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM:
        raise tokens.InvalidRequest(f"send the parameters as {_FORM} (RFC 6749 §3.2)")
    body = (await request.body()).decode("utf-8", errors="replace")
    return parse_qs(body, keep_blank_values=False, max_num_fields=50)


def _caller(request: Request, form: dict[str, list[str]], scope: str) -> tuple[str | None, Actor]:
    """Authenticate an introspection or revocation caller: a client, or a scoped bearer."""
    authorization = request.headers.get("authorization")
    if authorization and authorization.split(" ", 1)[0].lower() == "bearer":
        actor = get_actor(request, request.app.state.db)
        if not actor.has_scope(scope):
            raise Denied(f"this token lacks the {scope!r} scope")
        return None, actor
    credentials = tokens.credentials_from(authorization, form)
    db: Database = request.app.state.db
    with db.reading() as reader:
        client, identity = tokens.authenticate_client(
            reader, credentials, token_endpoint=f"{issuer_of(request)}/oauth2/token"
        )
    actor = Actor(
        kind=str(identity.kind),
        name=identity.name,
        identity_id=identity.id,
        channel="oauth",
        context={"client_id": client.client_id},
    )
    return client.client_id, _with_request_context(actor, request)


# -- routes ----------------------------------------------------------------------------


@router.post("/oauth2/token")
async def token(request: Request) -> JSONResponse:
    """RFC 6749 §3.2 token endpoint: ``client_credentials`` and RFC 8693 token exchange."""
    form = await _form(request)
    service = token_service(request.app)
    issuer = issuer_of(request)

    if service.db.backend != "sqlite":
        # On PostgreSQL the whole grant, its lookups and its event's commit, runs in one
        # thread: concurrent grants commit in parallel there (see TokenEndpoint._commit).
        def handle() -> dict[str, Any]:
            credentials = tokens.credentials_from(request.headers.get("authorization"), form)
            return tokens.TokenEndpoint(service).handle(
                form,
                credentials,
                issuer=issuer,
                token_endpoint=f"{issuer}/oauth2/token",
                context=request_context(request),
            )

        return JSONResponse(await run_in_threadpool(handle), headers=_NO_STORE)

    refusals: list[Write] = []

    def run() -> tuple[tokens.IssuedToken, Write]:
        credentials = tokens.credentials_from(request.headers.get("authorization"), form)
        return tokens.TokenEndpoint(service).prepare(
            form,
            credentials,
            issuer=issuer,
            token_endpoint=f"{issuer}/oauth2/token",
            context=request_context(request),
            refusals=refusals,
        )

    writer = event_writer(service.db)
    try:
        # Reads and a signature, done right here (see Database.run); the event goes to
        # the one writer, as SQLite's writers queue on one lock.
        issued, write = await service.db.run(run)
    except LimenError:
        if refusals:
            await writer.written(refusals)
        raise
    # The token leaves only once its event is committed, together with whatever other
    # requests' events this turn of the loop gathered.
    await writer.written([write])
    return JSONResponse(issued.to_response(), headers=_NO_STORE)


@router.post("/oauth2/introspect")
async def introspect(request: Request) -> JSONResponse:
    """RFC 7662 §2: ``{"active": false}`` for any token that is not valid right now."""
    form = await _form(request)

    def run() -> dict[str, Any]:
        _caller(request, form, "tokens:introspect")
        raw = form.get("token") or []
        if len(raw) != 1:
            raise tokens.InvalidRequest("send exactly one token parameter")
        return tokens.introspect(token_service(request.app), raw[0])

    return JSONResponse(await run_in_threadpool(run), headers=_NO_STORE)


@router.post("/oauth2/revoke")
async def revoke(request: Request) -> Response:
    """RFC 7009 §2: 200 with an empty body whether or not the token was valid."""
    form = await _form(request)

    def run() -> None:
        client_id, actor = _caller(request, form, "tokens:revoke")
        raw = form.get("token") or []
        if len(raw) != 1:
            raise tokens.InvalidRequest("send exactly one token parameter")
        hints = form.get("token_type_hint") or [None]
        service = token_service(request.app)
        with service.db.unit_of_work() as uow:
            tokens.revoke_token(
                uow, service, actor, raw[0], token_type_hint=hints[0], client_id=client_id
            )

    await run_in_threadpool(run)
    return Response(status_code=200, headers=_NO_STORE)


@router.get("/.well-known/oauth-authorization-server")
def metadata(request: Request) -> JSONResponse:
    """RFC 8414 §3 authorization server metadata."""
    return JSONResponse(tokens.server_metadata(issuer_of(request)))


@router.get("/.well-known/jwks.json")
def jwks(request: Request) -> JSONResponse:
    """The signing keys' public halves (RFC 7517 §5), including recently retired ones."""
    document = token_service(request.app).keys.jwks()
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=60"})
