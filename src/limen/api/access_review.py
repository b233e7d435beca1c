"""``GET /v1/access/review``: what each agent and service can reach and what it used
(see :mod:`limen.lifecycle.review`); ``GET /v1/posture/report``: the OWASP NHI Top 10
(:mod:`limen.lifecycle.posture`). JSON, or ``format=csv`` / ``format=html``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from limen import lifecycle
from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded

__all__ = ["posture_router", "router"]

router = APIRouter(prefix="/v1/access", tags=["access review"], route_class=Route)
posture_router = APIRouter(prefix="/v1/posture", tags=["posture"], route_class=Route)


@router.get("/review", openapi_extra=guarded("access.review"))
def access_review(
    services: ServicesDep,
    actor: ActorDep,
    kind: Literal["agent", "service"] | None = None,
    resource_tag: Annotated[str | None, Query(max_length=64)] = None,
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
    format: Literal["json", "csv", "html"] = "json",
) -> Response:
    review = services.access_review.review(actor, kind=kind, resource_tag=resource_tag, days=days)
    document = review.document()
    if format == "csv":
        return Response(lifecycle.review_csv(document), media_type="text/csv")
    if format == "html":
        return HTMLResponse(lifecycle.review_html(document))
    return JSONResponse(document)


@posture_router.get("/report", openapi_extra=guarded("access.review"))
def posture_report(
    services: ServicesDep,
    actor: ActorDep,
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
    format: Literal["json", "csv", "html"] = "json",
) -> Response:
    """The OWASP NHI Top 10 (2025): a count, the identities and the fix for each risk."""
    document = services.posture.report(actor, days=days).document()
    if format == "csv":
        return Response(lifecycle.posture_csv(document), media_type="text/csv")
    if format == "html":
        return HTMLResponse(lifecycle.posture_html(document))
    return JSONResponse(document)
