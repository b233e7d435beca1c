"""``POST /v1/discovery/reports``: where ``limen scan --report`` sends what it found."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from limen.api.deps import DatabaseDep, require_scope
from limen.api.routing import Route
from limen.audit import Actor
from limen.discovery import ReportedFinding, ReportedIdentity, ingest

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


@router.post("/reports", response_model=ReportOut)
def report(
    body: ReportIn,
    db: DatabaseDep,
    actor: Annotated[Actor, Depends(require_scope("discovery:write"))],
) -> ReportOut:
    with db.unit_of_work() as uow:
        result = ingest(
            uow,
            actor,
            origin=body.origin,
            identities_found=[
                ReportedIdentity(**i.model_dump(exclude={"credentials"})) for i in body.identities
            ],
            findings=[ReportedFinding(**f.model_dump()) for f in body.findings],
        )
    return ReportOut(created=result.created, updated=result.updated, findings=result.findings)
