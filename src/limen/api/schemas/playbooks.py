"""Response playbook bodies (``/v1/playbooks``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PlaybookIn", "PlaybookList", "PlaybookOut", "PlaybookTestIn", "PlaybookTestOut"]


class PlaybookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=20000, description="The playbook, YAML or JSON.")
    mode: Literal["live", "dry-run"] | None = Field(
        default=None, description="Overrides the document's mode."
    )


class PlaybookOut(BaseModel):
    name: str
    description: str
    match: dict[str, Any]
    actions: list[str]
    mode: str
    threat_level: str
    ssf: str | None = None
    created_by: str
    created_at: str
    updated_at: str


class PlaybookList(BaseModel):
    items: list[PlaybookOut]


class PlaybookTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert: str = Field(max_length=64)


class PlaybookTestOut(BaseModel):
    playbook: str
    alert: str
    identity: str
    matches: bool
    would: list[str]
    mode: str
