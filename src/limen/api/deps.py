"""FastAPI plumbing: the database, the authenticated actor, scope checks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, FastAPI, Request

from limen import identity
from limen.access import StatusView
from limen.audit import Actor
from limen.config import Settings
from limen.errors import Denied, Unauthenticated
from limen.store import Database

__all__ = [
    "ActorDep",
    "Authenticator",
    "DatabaseDep",
    "SettingsDep",
    "api_token_authenticator",
    "bearer_token",
    "built_once",
    "current_actor",
    "get_actor",
    "require_scope",
    "status_view",
    "verified_tokens",
]

_T = TypeVar("_T")

# Reentrant: building one part of the app may ask for another (the PDP needs the view).
_build_lock = threading.RLock()


class Authenticator(Protocol):
    """Turns a raw bearer token into an :class:`Actor`, or returns ``None`` if not its kind."""

    def __call__(self, db: Database, raw: str, request: Request) -> Actor | None: ...


# Dependencies that do no I/O are async: a sync dependency costs a thread-pool hop per
# request, which on one worker is a measurable share of a small request's time.
async def get_database(request: Request) -> Database:
    return request.app.state.db


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("send a bearer token in the Authorization header")
    return value.strip()


def request_context(request: Request) -> dict[str, str]:
    context = {}
    if request.client is not None:
        context["ip"] = request.client.host
    agent = request.headers.get("user-agent")
    if agent:
        context["user_agent"] = agent[:200]
    return context


def built_once(app: FastAPI, name: str, build: Callable[[], _T]) -> _T:
    """``app.state.<name>``, made by ``build()`` the first time it is asked for, once even
    when several threads ask at the same moment."""
    value = getattr(app.state, name, None)
    if value is None:
        with _build_lock:
            value = getattr(app.state, name, None)
            if value is None:
                value = build()
                setattr(app.state, name, value)
    return value


def status_view(app: FastAPI) -> StatusView:
    """The app's live status view (shared by token checks, the token service and the PDP)."""
    return built_once(app, "status_view", lambda: StatusView(app.state.db))


def verified_tokens(app: FastAPI) -> identity.VerifiedTokens:
    """The opaque tokens this app has looked up and may use again (see its docstring)."""
    return built_once(app, "verified_tokens", lambda: identity.VerifiedTokens(status_view(app)))


def api_token_authenticator(db: Database, raw: str, request: Request) -> Actor | None:
    """Limen's opaque ``limen_…`` tokens (admin, service account, events feed)."""
    if not raw.startswith(identity.TOKEN_PREFIX):
        return None
    verified = verified_tokens(request.app)
    stale: list[str] = []
    actor = verified.actor(raw, on_stale=stale.append)
    if actor is None:
        with db.reading() as reader:
            actor = identity.authenticate(reader, raw, on_stale=stale.append, verified=verified)
    if stale:
        _touch(db, stale[0])
    return actor


def get_actor(request: Request, db: DatabaseDep) -> Actor:
    """The authenticated caller; every route but health and public metadata depends on it."""
    raw = bearer_token(request)
    for authenticate in request.app.state.authenticators:
        actor = authenticate(db, raw, request)
        if actor is not None:
            return _with_request_context(actor, request)
    raise identity.InvalidToken("the bearer token is not valid")


def _with_request_context(actor: Actor, request: Request) -> Actor:
    return replace(actor, context={**actor.context, **request_context(request)})


async def current_actor(request: Request) -> Actor:
    db: Database = request.app.state.db
    raw = bearer_token(request)
    if raw.startswith(identity.TOKEN_PREFIX):
        # An opaque token is checked from memory once read (VerifiedTokens); the read is
        # one indexed lookup, on PostgreSQL awaited on the loop, on SQLite made right
        # here (see Database.run).
        if db.backend == "postgresql":
            actor = await _opaque_token_actor(db, raw, verified_tokens(request.app))
            return _with_request_context(actor, request)
        return await db.run(get_actor, request, db)
    # Limen's JWTs verify in memory against the live status view: no thread hop to pay.
    return get_actor(request, db)


async def _opaque_token_actor(db: Database, raw: str, verified: identity.VerifiedTokens) -> Actor:
    """:func:`api_token_authenticator` on the event loop, for PostgreSQL."""
    stale: list[str] = []
    actor = verified.actor(raw, on_stale=stale.append)
    if actor is None:
        async with db.reading_async() as reader:
            actor = await identity.authenticate_async(
                reader, raw, on_stale=stale.append, verified=verified
            )
    if stale:  # every few minutes per token: a write, so in a thread
        await asyncio.to_thread(_touch, db, stale[0])
    return actor


def _touch(db: Database, token_id: str) -> None:
    with db.unit_of_work() as uow:
        identity.touch_if_stale(uow, token_id)


ActorDep = Annotated[Actor, Depends(current_actor)]


def require_scope(scope: str) -> Callable[..., Awaitable[Actor]]:
    """A dependency that yields the actor if its token grants ``scope``, else 403."""

    async def check(actor: ActorDep) -> Actor:
        if not actor.has_scope(scope):
            raise Denied(f"this token lacks the {scope!r} scope")
        return actor

    check.__name__ = f"require_{scope.replace(':', '_')}"
    return check
