"""Audit chain bodies (``/v1/audit``): verification and signed checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CheckpointSigned", "PruneOut", "PrunePlanOut", "PruneRequest", "VerifyRequest"]


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resume: bool = Field(default=False, description="Start after the last verified checkpoint.")
    checkpoints: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=10_000,
        description="Checkpoints kept elsewhere (as GET /v1/audit/checkpoints gave them) to "
        "compare the chain with too.",
    )


class CheckpointSigned(BaseModel):
    checkpoint: dict[str, Any] | None = Field(
        description="The signed checkpoint (as GET /v1/audit/checkpoints lists them); the "
        "latest one again when nothing but its own event was linked since; null while the "
        "log is empty."
    )


class PrunePlanOut(BaseModel):
    events: int = Field(description="How many events pruning now would delete.")
    from_position: int
    through_position: int = Field(
        description="Send it back as `through_position` to delete no more than confirmed."
    )
    checkpoint_id: str | None = Field(
        description="The signed checkpoint that covers them; null: nothing to prune."
    )


class PruneRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    before: datetime = Field(description="Delete events older than this (ISO 8601).")
    reason: str | None = Field(default=None, max_length=500)
    through_position: int | None = Field(
        default=None, ge=0, description="Never past this position (the confirmed plan's)."
    )


class PruneOut(BaseModel):
    deleted: int
    through_position: int
    checkpoint_id: str | None
