"""Audit chain bodies (``/v1/audit``): verification and signed checkpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["VerifyRequest"]


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resume: bool = Field(default=False, description="Start after the last verified checkpoint.")
    checkpoints: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=10_000,
        description="Checkpoints kept elsewhere (as GET /v1/audit/checkpoints gave them) to "
        "compare the chain with too.",
    )
