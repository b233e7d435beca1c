"""The audit trail's own state: chain head, signed checkpoints, push sinks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from limen.ids import new_id
from limen.store.models.base import Base, utcnow

__all__ = ["AuditChainHead", "AuditCheckpoint", "AuditSink"]

_BIGINT = BigInteger().with_variant(Integer, "sqlite")


class AuditChainHead(Base):
    """The one row the chainer locks and moves: the last linked position and its link."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(_BIGINT, default=0)
    event_id: Mapped[str | None] = mapped_column(String(26))
    link: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    pruned_through: Mapped[int] = mapped_column(_BIGINT, default=0)
    """Events at positions up to here were pruned under a signed checkpoint."""
    portable_from: Mapped[int] = mapped_column(_BIGINT, default=1)
    """Links from this position on cover the portable canonical form (the same on every
    backend); those before it, the form of the backend they were written on."""
    unsealed_through: Mapped[int] = mapped_column(_BIGINT, default=0)
    """Events with ``seq`` up to here were written before rows were sealed: the chainer
    links them unsealed. Any later row must carry a valid seal."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditCheckpoint(Base):
    """An Ed25519 signature over the chain head at one position."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    position: Mapped[int] = mapped_column(_BIGINT, index=True)
    event_id: Mapped[str] = mapped_column(String(26))
    link: Mapped[str] = mapped_column(String(64))
    """Hex of the chain link at ``position``."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    verified_at: Mapped[datetime | None]
    """When ``limen audit verify`` last checked every event up to here against this."""


class AuditSink(Base):
    """A push destination and how far it has been delivered (the outbox state).

    The event log is the outbox: every sink keeps the chain position it has delivered
    through, advanced only after the destination acknowledged a batch.
    """

    __tablename__ = "audit_sinks"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    delivered_through: Mapped[int] = mapped_column(_BIGINT, default=0)
    delivered_count: Mapped[int] = mapped_column(_BIGINT, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(26))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
