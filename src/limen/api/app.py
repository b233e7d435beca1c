"""The one FastAPI application: every HTTP surface, built from a list of routers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from limen import __version__
from limen.api import (
    access_review,
    alerts,
    audit,
    authzen,
    clients,
    connect,
    detect,
    discovery,
    docs,
    events,
    events_api,
    events_tokens,
    health,
    identities,
    metrics,
    oauth,
    partner_admin,
    partners,
    personal_tokens,
    playbooks,
    policies,
    resources,
    scim,
    scim_admin,
    service_accounts,
    sinks,
    ssf,
    threat,
)
from limen.api.catchup import CatchUp
from limen.api.limits import BodySizeLimit
from limen.api.problems import ErrorRenderer, install_problem_handlers
from limen.config import Settings
from limen.services import Services
from limen.store import Database

__all__ = ["ROUTERS", "create_app"]

ROUTERS: list[APIRouter] = [authzen.router, connect.router, oauth.router]
ROUTERS += [partners.router, partners.killswitch_router, partner_admin.router]
ROUTERS += [health.router, identities.router, events.router, policies.router]
ROUTERS += [personal_tokens.router, clients.router, service_accounts.router]
ROUTERS += [ssf.router]
ROUTERS += [events_api.router, events_tokens.router, sinks.router, audit.router]
ROUTERS += [discovery.router, detect.router]
ROUTERS += [alerts.router, playbooks.router, threat.router, resources.router]
ROUTERS += [scim.router, scim_admin.router]
ROUTERS += [access_review.router, access_review.posture_router]
ROUTERS += [metrics.router, docs.router]

# Routes are matched one by one (a pattern match for each route that is not the one, see
# api.routing.Route.matches), so what machines call many times a second is matched
# first, in this order. Two routes that differ only in method share a path; each path
# keeps its routes' declared order.
HOT_PATHS = (
    "/access/v1/evaluation",
    "/v1/vaults/{vault_id}/items/{item_id}",
    "/oauth2/token",
    "/oauth2/introspect",
    "/access/v1/evaluations",
    "/v1beta1/accounts/{account_id}/users/{identity_id}:suspend",
    "/v1beta1/accounts/{account_id}/agents/{identity_id}:suspend",
    "/v1beta1/accounts/{account_id}/services/{identity_id}:suspend",
    "/v1beta1/users/oauth2/token",
)


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    ssf_tuning: dict[str, Any] | None = None,
) -> FastAPI:
    """Build the app for ``settings``.

    The schema must be current (``limen server`` initialises before it serves). Pass
    ``database`` to share one that the caller owns; it is then not disposed on shutdown.
    Everything the routes use is built once, in the lifespan, as one
    :class:`~limen.services.Services` (``app.state.services``).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.open(settings, database=database, ssf_tuning=ssf_tuning)
        await asyncio.to_thread(services.start)
        app.state.services = services
        try:
            yield
        finally:
            await asyncio.to_thread(services.close_background)
            await services.db.close_async()
            await asyncio.to_thread(services.close)

    app = FastAPI(
        title="Limen",
        version=__version__,
        summary="Secure every identity — people, services and AI agents — in one place.",
        lifespan=lifespan,
        docs_url=None,  # api.docs serves /docs with its own assets
        redoc_url=None,  # ReDoc loads from a CDN; /docs covers it
    )
    app.state.error_renderers: list[tuple[str, ErrorRenderer]] = [
        (authzen.ERROR_PREFIX, authzen.render_authzen_error),
        *((p, connect.connect_error) for p in connect.ERROR_PREFIXES),
        (oauth.ERROR_PREFIX, oauth.render_oauth_error),
        *((p, events_api.events_api_error) for p in events_api.ERROR_PREFIXES),
        (ssf.ERROR_PREFIX, ssf.render_ssf_error),
        (scim.ERROR_PREFIX, scim.render_scim_error),
        (partners.OAUTH_PREFIX, oauth.render_oauth_error),
        (partners.ERROR_PREFIX, partners.render_partner_error),
    ]
    install_problem_handlers(app)
    # The console imports the API's plumbing, so it is imported here, not above.
    from limen import web

    web.install(app)
    _add_routes(app, [*ROUTERS, web.router])
    docs.install_security_schemes(app)
    app.add_middleware(CatchUp)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_request_bytes,
        bounded_by_route=[connect.FILE_UPLOAD_PATH],
    )
    app.add_middleware(metrics.RequestCounter)  # outermost: a refused body is counted too
    return app


def _add_routes(app: FastAPI, routers: list[APIRouter]) -> None:
    """Put every router's routes on the app itself, hot paths first.

    Not ``include_router``: FastAPI 0.16x keeps an included router live and, per
    request, matches its routes twice with scope bookkeeping around each, which costs a
    hot route a visible share of its time (``benchmarks/pdp.py``). Our routers are included whole,
    with no prefix, dependencies or limits added at inclusion, so their routes are
    already complete as declared.
    """
    routes = [route for router in routers for route in router.routes]
    rank = {path: n for n, path in enumerate(HOT_PATHS)}
    routes.sort(key=lambda route: rank.get(getattr(route, "path", ""), len(rank)))
    # Before FastAPI's own /openapi.json and /docs routes, which nothing calls often.
    app.router.routes[:0] = routes
