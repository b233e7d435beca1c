"""Alerts of the live detector: ``/v1/alerts`` (list, show, acknowledge, false positive,
resolve). Reading takes ``alert.read`` (the audit group), changing ``alert.update`` (the
respond group: security operators)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.alerts import AlertChange, AlertList, AlertOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], route_class=Route)


Status = Literal["open", "acknowledged", "false_positive", "resolved"]
ChangeBody = Annotated[AlertChange | None, Body()]


def _out(document: dict[str, Any]) -> AlertOut:
    return AlertOut.model_validate(document)


@router.get(
    "",
    response_model=AlertList,
    response_model_by_alias=True,
    openapi_extra=guarded("alert.read"),
)
def list_alerts(
    services: ServicesDep,
    actor: ActorDep,
    status: Status | None = None,
    identity: Annotated[str | None, Query(max_length=200, description="Id or name.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertList:
    """Alerts, newest first."""
    found = services.alerts.list(actor, status=status, identity=identity, limit=limit)
    return AlertList(items=[_out(d) for d in found])


@router.get("/{alert_id}", response_model=AlertOut, openapi_extra=guarded("alert.read"))
def show_alert(alert_id: str, services: ServicesDep, actor: ActorDep) -> AlertOut:
    return _out(services.alerts.get(actor, alert_id))


@router.post(
    "/{alert_id}/acknowledge", response_model=AlertOut, openapi_extra=guarded("alert.update")
)
def acknowledge_alert(
    alert_id: str, services: ServicesDep, actor: ActorDep, body: ChangeBody = None
) -> AlertOut:
    """Someone is on it."""
    note = body.note if body else None
    return _out(services.alerts.acknowledge(actor, alert_id, note=note))


@router.post(
    "/{alert_id}/false-positive", response_model=AlertOut, openapi_extra=guarded("alert.update")
)
def false_positive(
    alert_id: str, services: ServicesDep, actor: ActorDep, body: ChangeBody = None
) -> AlertOut:
    """Not an attack: the detector learns the alert's behaviour as normal."""
    note = body.note if body else None
    return _out(services.alerts.mark_false_positive(actor, alert_id, note=note))


@router.post("/{alert_id}/resolve", response_model=AlertOut, openapi_extra=guarded("alert.update"))
def resolve_alert(
    alert_id: str, services: ServicesDep, actor: ActorDep, body: ChangeBody = None
) -> AlertOut:
    """Handled: contained, or explained."""
    note = body.note if body else None
    return _out(services.alerts.resolve(actor, alert_id, note=note))
