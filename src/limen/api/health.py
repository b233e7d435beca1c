"""``GET /health``: liveness and database reachability, no authentication."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from limen import __version__
from limen.api.deps import DatabaseDep

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health")
def health(db: DatabaseDep) -> JSONResponse:
    reachable = db.ping()
    body = {
        "status": "ok" if reachable else "unavailable",
        "version": __version__,
        "database": {"backend": db.backend, "reachable": reachable},
    }
    return JSONResponse(body, status_code=200 if reachable else 503)
