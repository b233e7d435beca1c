"""Discovery over HTTP: where ``limen scan --report`` sends what it found, and the fleet.

- ``POST /v1/discovery/reports``: a scan's inventory (``discovery:write``; enrolment
  tokens from ``limen fleet token create`` have only that scope). A report that names its
  machine also updates that machine's exposures and resolves what it no longer finds.
- ``POST /v1/discovery/enrolment-tokens``: ``limen fleet token create``, a token a
  fleet's machines report with (shown once).
- ``GET /v1/discovery/machines`` and ``GET /v1/discovery/exposures``: the fleet inventory
  (``discovery:read``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from limen.api.deps import ActorDep, ServicesDep
from limen.api.routing import Route, guarded
from limen.api.schemas.discovery import (
    EnrolmentIn,
    EnrolmentOut,
    ExposureList,
    ExposureOut,
    MachineList,
    MachineOut,
    ReportIn,
    ReportOut,
)
from limen.audit import Resource
from limen.discovery import (
    ReportedExposure,
    ReportedFinding,
    ReportedIdentity,
    enrol,
    ingest,
    list_exposures,
    list_machines,
    record_report,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/discovery", tags=["discovery"], route_class=Route)


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


@router.post(
    "/enrolment-tokens",
    response_model=EnrolmentOut,
    status_code=201,
    openapi_extra=guarded("token.create"),
)
def enrolment_token(body: EnrolmentIn, services: ServicesDep, actor: ActorDep) -> EnrolmentOut:
    """Issue an enrolment token for a fleet: its scope is ``discovery:write`` only."""
    services.guard.authorize(actor, "token.create", Resource("token", name=body.fleet))
    with services.db.unit_of_work() as uow:
        made = enrol(uow, actor, body.fleet, expires_at=body.expires_at)
    return EnrolmentOut(
        fleet=made.fleet, token_id=made.token_id, token=made.token, expires_at=made.expires_at
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
