"""Operator tags on resources outside Limen (``db:payments-prod`` is ``sensitive``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from limen.store.models.base import Base, utcnow

__all__ = ["ResourceTag"]


class ResourceTag(Base):
    """One tag an operator put on one resource, named as events name it (type and id)."""

    __tablename__ = "resource_tags"
    __table_args__ = (Index("ix_resource_tags_tag", "tag"),)

    resource_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
