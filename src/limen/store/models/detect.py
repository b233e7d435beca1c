"""Detection: each identity's learned baseline, stored so the detector survives a restart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from limen.store.models.base import Base, utcnow

__all__ = ["DetectAlert", "DetectBaseline", "DetectCursor"]


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


class DetectAlert(Base):
    """An alert the live detector raised: one episode of one identity, and its handling.

    ``subject`` is the detector's key (see :class:`DetectBaseline`); ``identity_id`` is
    set when it names an identity in the registry. Times ``first_at``, ``last_at`` and
    ``raised_at`` are event times; ``status`` is what people made of it (``open``,
    ``acknowledged``, ``false_positive``, ``resolved``). ``teach_pending`` asks the node
    that scores the identity to learn the alert's events as normal (a false-positive mark
    made on any node).
    """

    __tablename__ = "detect_alerts"
    __table_args__ = (
        # the queue and an identity's alerts, newest first (migration 0021)
        Index("ix_detect_alerts_status_page", "status", "created_at", "id"),
        Index("ix_detect_alerts_created", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    identity_id: Mapped[str | None] = mapped_column(String(32), index=True)
    identity_name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    score: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="open")
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    event_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    raised_at: Mapped[datetime]
    closed: Mapped[bool] = mapped_column(default=False)
    teach_pending: Mapped[bool] = mapped_column(default=False, index=True)
    handled_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DetectCursor(Base):
    """Where the live detector is in the log (a chain position), and which node holds it.

    One row per detector. The node whose lease is current scores; another takes over when
    the lease lapses. Advanced in the same transaction as the alerts and baselines of the
    events it covers, so each event is scored once.
    """

    __tablename__ = "detect_cursor"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
