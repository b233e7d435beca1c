"""Discovery over HTTP: where ``limen scan --report`` sends what it found, and the fleet.

- ``POST /v1/discovery/reports``: a scan's inventory (``discovery:write``; enrolment
  tokens from ``limen fleet token create`` have only that scope). A report that names its
  machine also updates that machine's exposures and resolves what it no longer finds.
- ``GET /v1/discovery/machines`` and ``GET /v1/discovery/exposures``: the fleet inventory
  (``discovery:read``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.audit import Resource
from limen.discovery import (
    ReportedExposure,
    ReportedFinding,
    ReportedIdentity,
    ingest,
    list_exposures,
    list_machines,
    record_report,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/discovery", tags=["discovery"], route_class=Route)


class IdentityIn(BaseModel):
    # extra="forbid": a report that tries to carry anything else (a secret) is refused.
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=8, max_length=128)
    kind: Literal["service", "agent"]
    provider: str = Field(max_length=100)
    name: str | None = Field(default=None, max_length=200)
    rule_ids: list[str] = Field(default_factory=list, max_length=50)
    places: list[str] = Field(default_factory=list, max_length=500)
    likely_owner: str | None = Field(default=None, max_length=320)
    first_seen: str | None = Field(default=None, max_length=40)
    last_seen: str | None = Field(default=None, max_length=40)
    credentials: list[str] = Field(default_factory=list, max_length=200)


class FindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: str = Field(max_length=100)
    provider: str = Field(max_length=100)
    location: str = Field(max_length=1000)
    fingerprint: str = Field(min_length=8, max_length=128)
    source: Literal["file", "git", "staged", "endpoint", "browser"] = "file"
    commit: str | None = Field(default=None, max_length=64)
    owner: str | None = Field(default=None, max_length=320)


class MachineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Host name of the scanner.")
    owner: str | None = Field(default=None, max_length=320, description="Its user.")
    scope: str | None = Field(default=None, max_length=4000, description="What was scanned.")


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    origin: str | None = Field(default=None, max_length=200, description="Host or CI job.")
    machine: MachineIn | None = None
    identities: list[IdentityIn] = Field(default_factory=list, max_length=5000)
    findings: list[FindingIn] = Field(default_factory=list, max_length=20000)


class ReportOut(BaseModel):
    created: list[str]
    updated: list[str]
    findings: int
    machine_id: str | None = None
    opened: int = 0
    resolved: int = 0


class MachineOut(BaseModel):
    id: str
    fleet: str
    name: str
    owner: str | None
    first_seen: datetime
    last_seen: datetime
    reports: int
    open_exposures: int


class MachineList(BaseModel):
    items: list[MachineOut]


class ExposureOut(BaseModel):
    id: str
    machine: str
    fleet: str
    owner: str | None
    fingerprint: str
    rule_id: str
    provider: str
    location: str
    source: str
    status: Literal["open", "resolved"]
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None


class ExposureList(BaseModel):
    items: list[ExposureOut]


@router.post("/reports", response_model=ReportOut, openapi_extra=guarded("discovery.report"))
def report(body: ReportIn, services: ServicesDep, actor: ActorDep) -> ReportOut:
    services.guard.authorize(actor, "discovery.report", Resource("finding"))
    with services.db.unit_of_work() as uow:
        result = ingest(
            uow,
            actor,
            origin=body.origin,
            identities_found=[
                ReportedIdentity(**i.model_dump(exclude={"credentials"})) for i in body.identities
            ],
            findings=[ReportedFinding(**f.model_dump()) for f in body.findings],
        )
        machine = None
        if body.machine is not None:
            machine = record_report(
                uow,
                actor,
                machine=body.machine.name,
                owner=body.machine.owner,
                scope=body.machine.scope,
                exposures=[
                    ReportedExposure(
                        fingerprint=f.fingerprint,
                        rule_id=f.rule_id,
                        provider=f.provider,
                        location=f.location,
                        source=f.source,
                    )
                    for f in body.findings
                ],
            )
    return ReportOut(
        created=result.created,
        updated=result.updated,
        findings=result.findings,
        machine_id=machine.machine_id if machine else None,
        opened=machine.opened if machine else 0,
        resolved=machine.resolved if machine else 0,
    )


@router.get("/machines", response_model=MachineList, openapi_extra=guarded("discovery.read"))
def machines(services: ServicesDep, actor: ActorDep) -> MachineList:
    services.guard.authorize(actor, "discovery.read", Resource("machine"))
    with services.db.unit_of_work(readonly=True) as uow:
        rows = list_machines(uow.session)
    return MachineList(items=[MachineOut(**row) for row in rows])  # type: ignore[arg-type]


@router.get("/exposures", response_model=ExposureList, openapi_extra=guarded("discovery.read"))
def exposures(
    services: ServicesDep,
    actor: ActorDep,
    machine: Annotated[str | None, Query(max_length=200)] = None,
    include_resolved: bool = False,
) -> ExposureList:
    services.guard.authorize(actor, "discovery.read", Resource("exposure"))
    with services.db.unit_of_work(readonly=True) as uow:
        rows = list_exposures(uow.session, machine=machine, include_resolved=include_resolved)
    return ExposureList(items=[ExposureOut(**row) for row in rows])  # type: ignore[arg-type]
