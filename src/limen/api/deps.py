"""FastAPI plumbing: the services, the authenticated actor, request context.

Routes get everything through :data:`ServicesDep` (the app's one
:class:`~limen.services.Services`, built in its lifespan) and the caller through
:data:`ActorDep`. Whether the caller may do what it asks is the domain services' to
decide (they ask the guard); routes check nothing themselves.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request

from limen import identity
from limen.audit import Actor
from limen.errors import Unauthenticated
from limen.services import Services
from limen.store import Database

__all__ = [
    "ActorDep",
    "ServicesDep",
    "actor_for_token",
    "bearer_token",
    "current_actor",
    "request_context",
    "services_of",
    "with_request_context",
]


def services_of(request: Request) -> Services:
    return request.app.state.services


# Async: a sync dependency costs a thread-pool hop per request.
async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


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


def with_request_context(actor: Actor, request: Request) -> Actor:
    return replace(actor, context={**actor.context, **request_context(request)})


async def current_actor(request: Request) -> Actor:
    """The authenticated caller: an opaque ``limen_`` token or one of Limen's JWTs.

    Both are checked against the status view in memory; an opaque token's row is read
    once per process (awaited, so the loop serves others meanwhile).
    """
    return await actor_for_token(request, bearer_token(request))


async def actor_for_token(request: Request, raw: str) -> Actor:
    """The identity ``raw`` (an opaque token or a JWT) authenticates, as :func:`current_actor`
    checks it: the console's session cookies carry a token that goes through here too."""
    services = services_of(request)
    if raw.startswith(identity.TOKEN_PREFIX):
        stale: list[str] = []
        tokens = services.opaque_tokens
        step = tokens.begin(raw, on_stale=stale.append)
        if isinstance(step, identity.Pending):
            row = await services.db.first(identity.TOKEN_ROW, token_hash=step.token_hash)
            if row is not None:  # its identity may be a moment old, made on another node
                await services.status.ensure_async((row.identity_id,))
            step = tokens.finish(step, row, on_stale=stale.append)
        if stale:  # every few minutes per token: a write, so in a thread
            await asyncio.to_thread(_touch, services.db, stale[0])
        return with_request_context(step, request)
    if raw.count(".") == 2 and raw.startswith("eyJ"):
        # Only tokens for Limen's own API (``aud`` = issuer): one minted for another
        # resource is refused, as RFC 8707 intends. Verified in memory.
        service = services.tokens
        claims = service.authentic(raw)
        await services.status.ensure_async((claims.sub, *claims.actors))
        claims = service.verify(raw)
        return with_request_context(service.actor_for(claims), request)
    raise identity.InvalidToken("the bearer token is not valid")


def _touch(db: Database, token_id: str) -> None:
    with db.unit_of_work() as uow:
        identity.touch_if_stale(uow, token_id)


ActorDep = Annotated[Actor, Depends(current_actor)]
