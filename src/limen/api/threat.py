"""The platform-wide threat level: ``GET``/``PUT /v1/threat-level`` (read: the view group;
set: the respond group)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded

__all__ = ["router"]

router = APIRouter(prefix="/v1/threat-level", tags=["threat"], route_class=Route)

Level = Literal["normal", "elevated", "high", "critical"]


class ThreatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Level
    reason: str | None = Field(default=None, max_length=500)


class ThreatOut(BaseModel):
    level: Level
    reason: str | None
    set_by: str | None
    set_at: str | None
    token_lifetime_scale: float


@router.get("", response_model=ThreatOut, openapi_extra=guarded("threat.read"))
def get_threat(services: ServicesDep, actor: ActorDep) -> ThreatOut:
    return ThreatOut(**services.threat.get(actor).to_document())


@router.put("", response_model=ThreatOut, openapi_extra=guarded("threat.write"))
def set_threat(body: ThreatIn, services: ServicesDep, actor: ActorDep) -> ThreatOut:
    """Set the level; every node tightens at once."""
    return ThreatOut(**services.threat.set(actor, body.level, reason=body.reason).to_document())
