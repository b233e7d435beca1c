"""The platform-wide threat level: ``GET``/``PUT /v1/threat-level`` (read: the view group;
set: the respond group)."""

from __future__ import annotations

from fastapi import APIRouter

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.threat import ThreatIn, ThreatOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/threat-level", tags=["threat"], route_class=Route)


@router.get("", response_model=ThreatOut, openapi_extra=guarded("threat.read"))
def get_threat(services: ServicesDep, actor: ActorDep) -> ThreatOut:
    return ThreatOut(**services.threat.get(actor).to_document())


@router.put("", response_model=ThreatOut, openapi_extra=guarded("threat.write"))
def set_threat(body: ThreatIn, services: ServicesDep, actor: ActorDep) -> ThreatOut:
    """Set the level; every node tightens at once."""
    return ThreatOut(**services.threat.set(actor, body.level, reason=body.reason).to_document())
