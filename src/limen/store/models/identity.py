"""Identities: humans, AI agents and services, with owner, status and attributes."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from limen.ids import new_id
from limen.store.models.base import Base, utcnow

__all__ = ["Identity", "IdentityKind", "IdentityStatus", "Partner"]


class IdentityKind(enum.StrEnum):
    HUMAN = "human"
    AGENT = "agent"
    SERVICE = "service"


class IdentityStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEPROVISIONED = "deprovisioned"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    # Stored by value as plain strings: readable in SQL and free of PostgreSQL ENUM
    # migrations when a later issue adds a value.
    return Enum(
        cls, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]
    )


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (
        Index("ix_identities_created", "created_at", "id"),
        # each filter of the list, then the page order (migration 0020)
        Index("ix_identities_kind_page", "kind", "created_at", "id"),
        Index("ix_identities_status_page", "status", "created_at", "id"),
        Index("ix_identities_owner_id_page", "owner_id", "created_at", "id"),
        Index("ix_identities_managed_page", "managed", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    kind: Mapped[IdentityKind] = mapped_column(_enum(IdentityKind, "identity_kind"))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("identities.id"))
    status: Mapped[IdentityStatus] = mapped_column(
        _enum(IdentityStatus, "identity_status"), default=IdentityStatus.ACTIVE
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    managed: Mapped[bool] = mapped_column(default=True)
    """False for identities discovered outside Limen's control (shadow identities)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    status_changed_at: Mapped[datetime | None]
    tokens_valid_after: Mapped[datetime | None]
    """The cut-off: a token issued to, or on behalf of, this identity before this moment
    is never honoured again. Set by every suspension, containment and deprovisioning."""

    @property
    def is_active(self) -> bool:
        return self.status is IdentityStatus.ACTIVE

    @property
    def is_admin(self) -> bool:
        return "admin" in (self.roles or [])


class Partner(Base):
    """A registered partner integration (SOAR, SIEM, XDR): a service identity that only
    ``limen partner create`` makes. Kill switches spare partners; nothing an identity's
    own attributes say can make it one."""

    __tablename__ = "partners"

    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
