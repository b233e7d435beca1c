"""``GET /health``: liveness and database reachability, no authentication."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from limen import __version__
from limen.api.deps import ServicesDep
from limen.api.routing import PUBLIC, Route

__all__ = ["router"]

router = APIRouter(tags=["health"], route_class=Route)


@router.get("/health", openapi_extra=PUBLIC)
async def health(services: ServicesDep) -> JSONResponse:
    db = services.db
    reachable = await db.run(db.ping)
    body = {
        "status": "ok" if reachable else "unavailable",
        "version": __version__,
        "database": {"backend": db.backend, "reachable": reachable},
        # The 1Password Connect health shape (``name``, ``version``, ``dependencies``), so
        # Connect clients' health checks work too.
        "name": "Limen",
        "dependencies": [
            {
                "service": db.backend,
                "status": "ACTIVE" if reachable else "UNAVAILABLE",
                "message": "connected" if reachable else "the database cannot be reached",
            }
        ],
    }
    return JSONResponse(body, status_code=200 if reachable else 503)
