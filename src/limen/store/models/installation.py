"""The one row describing this Limen installation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from limen.store.models.base import Base, utcnow

__all__ = ["Installation"]


class Installation(Base):
    """Created once by ``limen init``; its account id names the installation to partners."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(26), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
