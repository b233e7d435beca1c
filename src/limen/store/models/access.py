"""Cedar policies, stored by name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from limen.ids import new_id
from limen.store.models.base import Base, utcnow

__all__ = ["Policy"]


class Policy(Base):
    """One named Cedar policy text (it may hold several statements)."""

    __tablename__ = "access_policies"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    realm: Mapped[str] = mapped_column(String(16), default="access")
    """``access``: decisions for PEPs (AuthZEN); ``admin``: Limen's own operations (roles)."""
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
