"""Events-API feed tokens over HTTP: ``/v1/events-tokens``, as ``limen events-token create``.

A feed token is an opaque token like any other: ``GET /v1/tokens`` lists it and
``DELETE /v1/tokens/{id}`` revokes it. Its value is in the creating response, only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.events_tokens import EventsTokenCreate, EventsTokenCreated

__all__ = ["router"]

router = APIRouter(prefix="/v1/events-tokens", tags=["events api"], route_class=Route)


@router.post(
    "", status_code=201, response_model=EventsTokenCreated, openapi_extra=guarded("token.create")
)
def create_events_token(
    body: EventsTokenCreate, services: ServicesDep, actor: ActorDep
) -> JSONResponse:
    """A bearer token for the Events-API feed, reading only the features named."""
    days = body.expires_in_days
    token, raw = services.events_tokens.issue(
        actor,
        features=body.features,
        name=body.name,
        expires_at=datetime.now(UTC) + timedelta(days=days) if days else None,
    )
    document = EventsTokenCreated(
        id=token.id,
        token=raw,
        features=[s.split(":", 1)[1] for s in token.scopes],
        expires_at=token.expires_at,
    )
    return JSONResponse(
        document.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"}
    )
