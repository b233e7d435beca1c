"""Provisioning from an identity provider (SCIM): which humans and groups it manages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from limen.ids import new_id
from limen.store.models.base import Base, utcnow

__all__ = ["ProvisionedGroup", "ProvisionedMember", "ProvisionedUser"]


class ProvisionedUser(Base):
    """A human identity the identity provider manages; ``document`` is what it sent."""

    __tablename__ = "provisioned_users"
    __table_args__ = (Index("ix_provisioned_users_lower_name", func.lower(text("user_name"))),)

    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id"), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(320), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(200), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    granted_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The roles its groups granted (and only those: roles given by hand are kept)."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProvisionedGroup(Base):
    """A group the identity provider pushes; ``roles`` are the Limen roles it grants."""

    __tablename__ = "provisioned_groups"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    display_name: Mapped[str] = mapped_column(String(200), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(200), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    document: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """What the identity provider sent about its members beyond their ids (display, type)."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProvisionedMember(Base):
    __tablename__ = "provisioned_members"

    group_id: Mapped[str] = mapped_column(ForeignKey("provisioned_groups.id"), primary_key=True)
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id"), primary_key=True, index=True
    )
