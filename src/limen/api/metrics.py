"""``GET /metrics``: this node's counters in Prometheus' text format (``metrics.read``).

The route is guarded like the event log it summarises: roles with the ``audit`` group
(admin, security operator, auditor) may scrape, and so may a service account whose token
holds the scope ``metrics:read`` (what a Prometheus scraper is given). See docs/metrics.md.

:class:`RequestCounter` counts every answered request by method, route template (never
the concrete path, so series stay few) and status code.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from limen.api.deps import current_actor, services_of
from limen.api.routing import Route, guarded
from limen.metrics import CONTENT_TYPE

__all__ = ["RequestCounter", "router"]

router = APIRouter(tags=["operations"], route_class=Route)

UNMATCHED = "<unmatched>"
"""The route label of a request no route matched (a 404), so stray paths add no series."""


@router.get("/metrics", openapi_extra=guarded("metrics.read"))
async def metrics(request: Request) -> Response:
    """Prometheus text exposition format 0.0.4."""
    services = services_of(request)
    await services.guard.authorize_async(await current_actor(request), "metrics.read")
    # Scraping reads the chain head and the sinks: off the event loop.
    body = await asyncio.to_thread(services.metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


class RequestCounter:
    """ASGI middleware: one count per answered HTTP request, after routing named it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers if the app raises before it starts one

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            services = getattr(scope["app"].state, "services", None)
            if services is not None:
                route = scope.get("route")
                template = getattr(route, "path", None) or UNMATCHED
                services.metrics.count_request(scope["method"], template, status)
