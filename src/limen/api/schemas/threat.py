"""The threat level's bodies (``/v1/threat-level``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Level", "ThreatIn", "ThreatOut"]


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
