"""Push sinks over HTTP: ``/v1/sinks`` (add, list, show, remove, deliver now).

The same functions as ``limen sink …``, through :class:`limen.audit.sinks.Sinks`, which
asks the guard. A webhook's signing secret is in the response that adds it, only. A file
(``jsonl``) sink names a path on the server host, so only ``limen sink add`` there adds one.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.sinks import (
    SinkCreate,
    SinkCreated,
    SinkDelivery,
    SinkFailing,
    SinkList,
    SinkPublic,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/sinks", tags=["audit sinks"], route_class=Route)
_NO_STORE = {"Cache-Control": "no-store"}


@router.post("", status_code=201, response_model=SinkCreated, openapi_extra=guarded("sink.write"))
def add_sink(body: SinkCreate, services: ServicesDep, actor: ActorDep) -> JSONResponse:
    """Add a push sink; a webhook's signing secret is in this response only."""
    status, secret = services.sinks.add(
        actor,
        name=body.name,
        kind=body.kind,
        target=body.target,
        subject=body.subject,
        stream=body.stream,
        from_start=not body.from_now,
    )
    document = SinkCreated(**SinkPublic.from_domain(status).model_dump(), secret=secret)
    return JSONResponse(document.model_dump(mode="json"), status_code=201, headers=_NO_STORE)


@router.get("", response_model=SinkList, openapi_extra=guarded("sink.read"))
def list_sinks(services: ServicesDep, actor: ActorDep) -> SinkList:
    """Every sink and how far it has been delivered."""
    return SinkList(items=[SinkPublic.from_domain(s) for s in services.sinks.list(actor)])


@router.post("/deliver", response_model=SinkDelivery, openapi_extra=guarded("sink.write"))
def deliver_now(services: ServicesDep, actor: ActorDep) -> SinkDelivery:
    """Deliver pending events to every due sink now (the server does so continuously)."""
    delivered, failing = services.sinks.deliver(actor)
    return SinkDelivery(
        delivered=delivered,
        failing=[SinkFailing(name=s.name, last_error=s.last_error) for s in failing],
    )


@router.get("/{ref}", response_model=SinkPublic, openapi_extra=guarded("sink.read"))
def get_sink(ref: str, services: ServicesDep, actor: ActorDep) -> SinkPublic:
    return SinkPublic.from_domain(services.sinks.get(actor, ref))


@router.delete("/{ref}", status_code=204, openapi_extra=guarded("sink.write"))
def remove_sink(ref: str, services: ServicesDep, actor: ActorDep) -> Response:
    """Remove a sink (its delivery position goes with it)."""
    services.sinks.remove(actor, ref)
    return Response(status_code=204)
