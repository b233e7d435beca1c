"""1Password's Users API for Partners shapes (``/v1beta1/...``): the User object and a page.

https://developer.1password.com/docs/users-api/
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ListUsersResponse", "PartnerUser"]


class PartnerUser(BaseModel):
    """1Password's User object; ``kind`` and ``owner`` only on agents and services."""

    model_config = ConfigDict(extra="forbid")

    id: str
    email: str = Field(default="", description="Empty when the identity has none.")
    display_name: str
    state: Literal["STATE_UNSPECIFIED", "ACTIVE", "SUSPENDED"]
    create_time: str = Field(description="RFC 3339, UTC.")
    path: str = Field(description="accounts/<account_id>/<collection>/<id>")
    kind: str | None = None
    owner: str | None = Field(default=None, description="Id of the owning human.")


class ListUsersResponse(BaseModel):
    results: list[PartnerUser]
    next_page_token: str | None = None
