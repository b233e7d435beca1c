"""Kill switch bodies (``/v1/killswitch``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["KillSwitchPublic", "KillSwitchRequest"]


class KillSwitchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["agent", "service"] = "agent"
    reason: str | None = Field(default=None, max_length=1000)


class KillSwitchPublic(BaseModel):
    id: str
    kind: str
    engaged: bool
    reason: str | None
    engaged_at: datetime
    engaged_by: str
    released_at: datetime | None = None
    held: int | None = None
    suspended: list[str] | None = None
    reactivated: list[str] | None = None
    left_alone: list[str] | None = None
