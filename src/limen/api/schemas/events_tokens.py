"""Events-API feed token bodies (``/v1/events-tokens``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EventsTokenCreate", "EventsTokenCreated"]


class EventsTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[str] = Field(
        min_length=1, max_length=3, description="auditevents, itemusages, signinattempts."
    )
    name: str = Field(
        default="events-reporting",
        min_length=1,
        max_length=200,
        description="Service identity that holds the token.",
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class EventsTokenCreated(BaseModel):
    id: str
    token: str = Field(description="Shown once, here only.")
    features: list[str]
    expires_at: datetime | None
