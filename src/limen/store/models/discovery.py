"""Discovery's fleet: machines that report their scans, and what each one exposes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from limen.ids import new_id
from limen.store.models.base import Base, utcnow

__all__ = ["FleetExposure", "FleetMachine"]


class FleetMachine(Base):
    """A laptop or CI runner that reports ``limen scan --report`` results, one per name."""

    __tablename__ = "fleet_machines"
    __table_args__ = (UniqueConstraint("fleet", "name", name="uq_fleet_machines_fleet_name"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    fleet: Mapped[str] = mapped_column(String(200))
    """The enrolment token's name (``default`` for reports sent with another token)."""
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(320))
    token_id: Mapped[str | None] = mapped_column(ForeignKey("api_tokens.id"))
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    reports: Mapped[int] = mapped_column(Integer, default=0)


class FleetExposure(Base):
    """One credential (by fingerprint) in one place on one machine, open or resolved.

    ``scope_key`` is a digest of what the reporting scan covered: only a later scan of the
    same scope can resolve an exposure by no longer finding it.
    """

    __tablename__ = "fleet_exposures"
    __table_args__ = (
        UniqueConstraint(
            "machine_id",
            "scope_key",
            "fingerprint",
            "location",
            name="uq_fleet_exposures_place",
        ),
        Index("ix_fleet_exposures_machine_status", "machine_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    machine_id: Mapped[str] = mapped_column(ForeignKey("fleet_machines.id"))
    scope_key: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(128), index=True)
    rule_id: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(100))
    location: Mapped[str] = mapped_column(String(1000))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    """``open`` while the machine's scans find it, ``resolved`` once one no longer does."""
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
