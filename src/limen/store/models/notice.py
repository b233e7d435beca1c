"""Change notices between processes that share a SQLite file.

PostgreSQL nodes tell each other of a change with NOTIFY. Processes on one SQLite file
(``limen server`` and a ``limen`` command run beside it) have no such channel, so a
notice is a row written in the transaction that made the change: it exists exactly when
the change committed, and other processes read the rows after the last one they saw.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from limen.store.models.base import Base, utcnow

__all__ = ["StoreNotice"]


class StoreNotice(Base):
    __tablename__ = "store_notices"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    node: Mapped[str] = mapped_column(String(26))
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
