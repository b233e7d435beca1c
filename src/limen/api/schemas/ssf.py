"""The admin's view of Shared Signals streams (``GET /v1/ssf/streams``)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from limen.store.models import SsfStream

__all__ = ["StreamList", "StreamSummary"]


def _without_credentials(url: str | None) -> str | None:
    """A push endpoint without user info, query or fragment: a receiver may have put a
    credential there, and this view is for people who do not hold it."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class StreamSummary(BaseModel):
    stream_id: str
    receiver_id: str
    receiver: str = Field(description="The receiver identity's name.")
    delivery_method: str
    endpoint: str | None = Field(
        description="A push stream's endpoint, without credentials, query or fragment."
    )
    events_requested: list[str]
    status: str
    status_reason: str | None
    description: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, stream: SsfStream, receiver: str) -> StreamSummary:
        return cls(
            stream_id=stream.id,
            receiver_id=stream.receiver_id,
            receiver=receiver,
            delivery_method=stream.delivery_method,
            endpoint=_without_credentials(stream.endpoint_url),
            events_requested=list(stream.events_requested or []),
            status=stream.status,
            status_reason=stream.status_reason,
            description=stream.description,
            created_at=stream.created_at,
            updated_at=stream.updated_at,
        )


class StreamList(BaseModel):
    items: list[StreamSummary]
