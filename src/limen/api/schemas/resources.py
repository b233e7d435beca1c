"""Operator resource tag bodies (``/v1/resources``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ResourceList", "ResourceOut", "ResourceTagsIn"]


class ResourceTagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: str = Field(max_length=401, description="type:id, as events name it.")
    tags: list[str] = Field(min_length=1, max_length=20)


class ResourceOut(BaseModel):
    resource: str
    type: str
    id: str
    tags: list[str]


class ResourceList(BaseModel):
    items: list[ResourceOut]
