"""The one FastAPI application: every HTTP surface, built from a list of routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from limen import __version__
from limen.api import (
    authzen,
    connect,
    discovery,
    events,
    events_api,
    health,
    identities,
    oauth,
    partners,
    policies,
    ssf,
)
from limen.api.deps import Authenticator, api_token_authenticator
from limen.api.limits import BodySizeLimit
from limen.api.problems import ErrorRenderer, install_problem_handlers
from limen.audit.durable import event_writer
from limen.config import Settings
from limen.store import Database

__all__ = ["ROUTERS", "create_app"]

# Routes are matched one by one in this order, so the surfaces that machines call many
# times a second (decisions, secret reads, tokens, partner containment) come first. No
# two routers share a path, so the order changes nothing else.
ROUTERS: list[APIRouter] = [authzen.router, connect.router, oauth.router]
ROUTERS += [partners.router, partners.killswitch_router]
ROUTERS += [health.router, identities.router, events.router, policies.router]
ROUTERS += [ssf.router]
ROUTERS += [events_api.router]
ROUTERS += [discovery.router]


def create_app(settings: Settings, *, database: Database | None = None) -> FastAPI:
    """Build the app for ``settings``.

    The schema must be current (``limen server`` initialises before it serves). Pass
    ``database`` to share one that the caller owns; it is then not disposed on shutdown.
    """
    db = database or Database(settings.resolved_database_url)
    owns_db = database is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.broadcaster.start()
        ssf.start_transmitter(app)
        events_api.start_audit_worker(app)
        try:
            yield
        finally:
            events_api.stop_audit_worker(app)
            ssf.stop_transmitter(app)
            event_writer(db).close()
            if owns_db:
                db.dispose()
            else:
                db.broadcaster.stop()

    app = FastAPI(
        title="Limen",
        version=__version__,
        summary="Secure every identity — people, services and AI agents — in one place.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.authenticators: list[Authenticator] = [api_token_authenticator]
    app.state.error_renderers: list[tuple[str, ErrorRenderer]] = []
    app.state.error_renderers += [(p, connect.connect_error) for p in connect.ERROR_PREFIXES]
    app.state.authenticators.append(oauth.jwt_authenticator)
    app.state.error_renderers.append((oauth.ERROR_PREFIX, oauth.render_oauth_error))
    events_api_errors = [(p, events_api.events_api_error) for p in events_api.ERROR_PREFIXES]
    app.state.error_renderers += events_api_errors
    app.state.error_renderers.append((ssf.ERROR_PREFIX, ssf.render_ssf_error))
    app.state.error_renderers.append((partners.OAUTH_PREFIX, oauth.render_oauth_error))
    app.state.error_renderers.append((partners.ERROR_PREFIX, partners.render_partner_error))
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    return app
