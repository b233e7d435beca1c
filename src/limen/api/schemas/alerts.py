"""Alert bodies (``/v1/alerts``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AlertChange", "AlertList", "AlertOut", "AlertReason"]


class AlertReason(BaseModel):
    code: str
    weight: float
    text: str


class AlertOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    identity: dict[str, Any]
    score: float
    severity: str
    status: str
    reasons: list[AlertReason]
    events: list[str]
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    raised_at: str
    closed: bool
    handled_by: str | None
    note: str | None
    created_at: str
    updated_at: str


class AlertList(BaseModel):
    items: list[AlertOut]


class AlertChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)
