"""Detection bodies (``/v1/detect``): a simulated company's identities to register."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SimulatedIdentities", "SimulatedIdentity", "SimulationRegistered"]


class SimulatedIdentity(BaseModel):
    """One identity of the company ``limen detect simulate`` wrote events for."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["human", "agent", "service"]
    owner: str | None = Field(default=None, max_length=200, description="The owner's name.")
    attributes: dict[str, Any] = Field(default_factory=dict)
    email: str | None = Field(default=None, max_length=320)


class SimulatedIdentities(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identities: list[SimulatedIdentity] = Field(max_length=10_000)


class SimulationRegistered(BaseModel):
    registered: int = Field(description="How many identities were created; existing ones stay.")
