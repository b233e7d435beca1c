"""Detection: each identity's learned baseline, stored so the detector survives a restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from limen.store.models.base import Base, utcnow

__all__ = ["DetectBaseline"]


class DetectBaseline(Base):
    """One identity's baseline: a compressed document only ``limen.detect`` reads.

    ``subject`` is the detector's key for the identity (its id, or ``actor:<name>`` for
    an actor Limen does not manage, so there is no foreign key). ``partition`` spreads
    identities over the nodes that score them: a node loads and saves only the
    partitions it holds.
    """

    __tablename__ = "detect_baselines"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    learned_events: Mapped[float] = mapped_column(Float)
    last_event_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
