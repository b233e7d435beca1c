"""Push sink bodies (``/v1/sinks``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from limen.audit.sinks import SinkStatus

__all__ = ["SinkCreate", "SinkCreated", "SinkDelivery", "SinkFailing", "SinkList", "SinkPublic"]


class SinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["webhook", "nats"] = Field(
        description="A file (jsonl) sink is added on the server host: limen sink add."
    )
    target: str = Field(min_length=1, max_length=2000, description="Webhook or nats:// URL.")
    subject: str | None = Field(default=None, max_length=200, description="NATS subject.")
    stream: str | None = Field(
        default=None, max_length=200, description="JetStream stream to create if missing."
    )
    from_now: bool = Field(default=False, description="Skip events already in the log.")


class SinkPublic(BaseModel):
    id: str
    name: str
    kind: str
    target: str
    enabled: bool
    delivered_through: int
    delivered_count: int
    pending: int
    failures: int
    last_error: str | None
    next_attempt_at: datetime | None

    @classmethod
    def from_domain(cls, status: SinkStatus) -> SinkPublic:
        return cls(**status.to_document())


class SinkCreated(SinkPublic):
    secret: str | None = Field(
        description="A webhook's signing secret: shown once, here only (none for NATS)."
    )


class SinkList(BaseModel):
    items: list[SinkPublic]


class SinkFailing(BaseModel):
    name: str
    last_error: str | None


class SinkDelivery(BaseModel):
    delivered: int
    failing: list[SinkFailing]
