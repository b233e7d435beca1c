"""The event log: one append-only table for everything that happens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    column,
    table,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from limen.ids import new_id
from limen.store.models.base import Base, utcnow

__all__ = ["Event", "events_acted_for"]


class Event(Base):
    """Who (identity, delegation chain, token) did what (action) to what (resource), how it ended.

    ``seq`` is assigned by the database when the producer inserts the row; ``id`` is the
    stable public name of an event. ``chain_pos``, ``chain_prev_id`` and ``link`` are
    written once, by the audit chainer, when it links the event into the hash chain (see
    ``limen.audit.chain``); readers page by ``chain_pos``, the order the chain fixed.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_actor_seq", "actor_id", "seq"),
        Index("ix_events_action_seq", "action", "seq"),
        Index("ix_events_resource_seq", "resource_type", "resource_id", "seq"),
        Index("ix_events_time", "occurred_at"),
        # What each identity did, for the access review: grouped in index order, and
        # answered from the index alone (lifecycle.review).
        Index("ix_events_use", "action", "actor_id", "resource_id", "outcome", "occurred_at"),
        Index("ix_events_chain_pos", "chain_pos", unique=True),
        Index(
            "ix_events_unchained",
            "seq",
            sqlite_where=text("chain_pos IS NULL"),
            postgresql_where=text("chain_pos IS NULL"),
        ),
        # Rows the chainer set aside (inserted behind Limen's back): few, found here.
        Index(
            "ix_events_set_aside",
            "seq",
            sqlite_where=text("quarantined_at IS NOT NULL"),
            postgresql_where=text("quarantined_at IS NOT NULL"),
        ),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(26), unique=True, default=new_id, insert_sentinel=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[str | None] = mapped_column(String(26))
    actor_kind: Mapped[str] = mapped_column(String(32))
    actor_name: Mapped[str] = mapped_column(String(200))
    delegation: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """The ``act`` chain: identities on whose behalf the actor acted, nearest first."""
    token_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(100))
    resource_type: Mapped[str | None] = mapped_column(String(50))
    resource_id: Mapped[str | None] = mapped_column(String(200))
    resource_name: Mapped[str | None] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    chain_pos: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    """1, 2, 3…: the event's place in the hash chain; ``None`` until the chainer links it."""
    seal: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """HMAC of the event's canonical form under a key only Limen's writers hold: the
    chainer links only rows it can vouch for were written by Limen."""
    quarantined_at: Mapped[datetime | None]
    """Set by the chainer on a row it cannot vouch for (no valid seal): never linked, and
    reported by verification as tampering."""
    chain_prev_id: Mapped[str | None] = mapped_column(String(26))
    """Id of the event at ``chain_pos - 1``, so a deleted event can be named by id."""
    link: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """HMAC-SHA256 over the previous link and this event's canonical form."""


events_acted_for = table("events_acted_for", column("identity_id", String), column("seq", Integer))
"""One row per (identity in an event's delegation chain, event): what was done on an
identity's behalf, newest first from its primary key ``(identity_id, seq)``. Kept by
triggers on ``events`` (migrations 0014 and 0019), not by the writers, so it is no table
of the models (``limen db copy`` copies events and the target's triggers fill it)."""
