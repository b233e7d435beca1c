"""Discovery reports and the fleet inventory (``/v1/discovery``).

A report carries fingerprints and places, never a secret: every body forbids extra fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EnrolmentIn",
    "EnrolmentOut",
    "ExposureList",
    "ExposureOut",
    "FindingIn",
    "IdentityIn",
    "MachineIn",
    "MachineList",
    "MachineOut",
    "ReportIn",
    "ReportOut",
]


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


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fleet: str = Field(
        default="default", min_length=1, max_length=200, description="e.g. laptops or ci"
    )
    expires_at: datetime | None = Field(default=None, description="Never, if left out.")


class EnrolmentOut(BaseModel):
    fleet: str
    token_id: str
    token: str = Field(description="Shown once: it can report scans and nothing else.")
    expires_at: datetime | None
