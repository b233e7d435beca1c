"""Health for load balancers and orchestrators, no authentication.

- ``GET /health`` — liveness: 200 while this process answers requests. Its body also says
  whether the database answers (the 1Password Connect health shape), for people.
- ``GET /ready`` — readiness: 200 only while this node can serve correctly: the database
  answers, its change feed is current (so no decision rests on stale status), the schema
  is current, and the audit writer keeps up; 503 with each check otherwise. Point a load
  balancer's health check here. Its body also says whether the live detector scores
  every identity's events yet (``detect``), which does not make a node unready: events
  committed before it does are scored once it does.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from limen import __version__
from limen.api.deps import ServicesDep
from limen.api.routing import PUBLIC, Route

__all__ = ["router"]

router = APIRouter(tags=["health"], route_class=Route)

# Event writes the writer thread may hold, and how long the oldest may wait to be
# committed, before the node counts as falling behind: a writer that is blocked holds
# few writes on a quiet node, but ever longer (requests that record an event wait).
_WRITER_BACKLOG = 5_000
_WRITER_LAG_SECONDS = 5.0
_PING_SECONDS = 1.0


async def _reachable(services: ServicesDep) -> bool:
    db = services.db
    try:
        return await asyncio.wait_for(asyncio.to_thread(db.ping), _PING_SECONDS)
    except TimeoutError:
        return False


@router.get("/health", openapi_extra=PUBLIC)
async def health(services: ServicesDep) -> JSONResponse:
    """Liveness: this process answers. (Readiness, to route traffic by: ``/ready``.)"""
    reachable = await _reachable(services)
    backend = services.db.dialect.name
    body = {
        "status": "ok",
        "version": __version__,
        "database": {"backend": backend, "reachable": reachable},
        # The 1Password Connect health shape (``name``, ``version``, ``dependencies``), so
        # Connect clients' health checks work too.
        "name": "Limen",
        "dependencies": [
            {
                "service": backend,
                "status": "ACTIVE" if reachable else "UNAVAILABLE",
                "message": "connected" if reachable else "the database cannot be reached",
            }
        ],
    }
    return JSONResponse(body)


def _scoring(services: ServicesDep) -> dict[str, object]:
    from limen.detect.live import scoring

    with services.db.unit_of_work(readonly=True) as uow:
        state = scoring(uow.session)
    return {"scoring": state.live, "partitions": state.partitions, "held": state.held}


async def _detect(services: ServicesDep) -> dict[str, object] | None:
    try:
        return await asyncio.wait_for(services.db.run(_scoring, services), _PING_SECONDS)
    except Exception:  # the database is away: the checks say so
        return None


@router.get("/ready", openapi_extra=PUBLIC)
async def ready(services: ServicesDep) -> JSONResponse:
    """Readiness: every check must pass for this node to take traffic."""
    reachable = await _reachable(services)
    checks = {
        "database": reachable,
        "change_feed": services.status.is_current(),
        "schema": services.schema_current,
        "audit_writer": (
            services.events.backlog < _WRITER_BACKLOG and services.events.lag < _WRITER_LAG_SECONDS
        ),
    }
    ok = all(checks.values())
    body = {
        "status": "ready" if ok else "unavailable",
        "version": __version__,
        "checks": checks,
        "detect": await _detect(services) if reachable else None,
    }
    headers = None if ok else {"Retry-After": "1"}
    return JSONResponse(body, status_code=200 if ok else 503, headers=headers)
