"""The 1Password Events-API shapes: cursors, a page of the feed, token introspection.

https://developer.1password.com/docs/events-api/reference
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CursorRequest", "FeedResponse", "Introspection", "ResetCursor"]


class ResetCursor(BaseModel):
    """Start a feed over: from ``start_time`` (default: the oldest event kept)."""

    model_config = ConfigDict(extra="ignore")
    limit: int | None = Field(default=None, ge=1, le=1000)
    start_time: datetime | None = None
    end_time: datetime | None = None


class CursorRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    cursor: str | None = None
    limit: int | None = Field(default=None, ge=1, le=1000)
    start_time: datetime | None = None
    end_time: datetime | None = None


class FeedResponse(BaseModel):
    items: list[dict[str, Any]]
    cursor: str
    has_more: bool


class Introspection(BaseModel):
    uuid: str
    issued_at: datetime | None
    features: list[str]
    account_uuid: str
