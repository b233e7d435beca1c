"""Opaque bearer tokens (admin, service account, events feed), stored only as hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from limen.ids import new_id
from limen.store.models.base import Base, utcnow

__all__ = ["ApiToken"]


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    """``admin``, ``service-account``, ``events``…: what the token was made for."""
    name: Mapped[str | None] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    orphans: Mapped[str | None] = mapped_column(String(32))
    """A SCIM token's policy for the agents and services of the people it deprovisions
    (``suspend``, ``transfer-to-manager``, ``keep``); unset follows ``LIMEN_ORPHANS``."""
