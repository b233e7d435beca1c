"""Response: containments (cascades, kill switches) and the Shared Signals transmitter's state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from limen.ids import new_id
from limen.store.models.base import Base, utcnow

__all__ = [
    "Containment",
    "ContainmentMember",
    "Playbook",
    "SsfCursor",
    "SsfOutbox",
    "SsfStream",
    "ThreatLevel",
]


class Containment(Base):
    """One containment action that suspended several identities at once.

    ``kind`` is ``cascade`` (a human and the agents it owns) or ``kill-switch`` (every
    identity of ``target_kind``). The members say exactly which identities it suspended,
    so that releasing it reverses that and nothing else.
    """

    __tablename__ = "containments"
    __table_args__ = (Index("ix_containments_kind_released", "kind", "released_at"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    target_kind: Mapped[str | None] = mapped_column(String(32))
    """For a kill switch: the identity kind it covers (``agent``, ``service``)."""
    root_id: Mapped[str | None] = mapped_column(ForeignKey("identities.id"))
    """For a cascade: the human whose agents were suspended with it."""
    reason: Mapped[str | None] = mapped_column(Text)
    engaged_at: Mapped[datetime] = mapped_column(default=utcnow)
    engaged_by: Mapped[str] = mapped_column(String(200))
    engaged_by_id: Mapped[str | None] = mapped_column(String(26))
    """The identity that engaged a kill switch: spared by it, so it can release it."""
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(200))


class ContainmentMember(Base):
    """An identity a containment suspended, and what became of it on release."""

    __tablename__ = "containment_members"

    containment_id: Mapped[str] = mapped_column(ForeignKey("containments.id"), primary_key=True)
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id"), primary_key=True, index=True
    )
    suspended_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]
    release_outcome: Mapped[str | None] = mapped_column(String(32))
    """``reactivated``, or why it was left alone (``changed-since``)."""


class SsfStream(Base):
    """An OpenID SSF 1.0 event stream a receiver created (§8.1.1 stream configuration)."""

    __tablename__ = "ssf_streams"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    receiver_id: Mapped[str] = mapped_column(ForeignKey("identities.id"), index=True)
    """The identity whose credential created the stream; only it may manage it."""
    iss: Mapped[str] = mapped_column(Text)
    """The issuer the receiver discovered us by; every SET on the stream carries it."""
    aud: Mapped[list[str]] = mapped_column(JSON, default=list)
    delivery_method: Mapped[str] = mapped_column(String(64))
    endpoint_url: Mapped[str | None] = mapped_column(Text)
    authorization_header: Mapped[str | None] = mapped_column(Text)
    """Sealed (``respond.ssf.HeaderSealer``); sent with every push, never read back or logged."""
    events_requested: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    signing_alg: Mapped[str | None] = mapped_column(String(16))
    """``EdDSA`` or ``RS256``, as the receiver asked; ``None``: the installation's default."""
    status: Mapped[str] = mapped_column(String(16), default="enabled")
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SsfOutbox(Base):
    """One Security Event Token for one stream, kept until delivered (push) or acknowledged (poll).

    The claims are stored unsigned; each delivery attempt signs them with the current key,
    so a key rotation between attempts does not strand a SET.
    """

    __tablename__ = "ssf_outbox"
    __table_args__ = (
        Index("ix_ssf_outbox_due", "state", "next_attempt_at"),
        Index("ix_ssf_outbox_stream_state", "stream_id", "state"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    jti: Mapped[str] = mapped_column(String(64), unique=True, default=new_id)
    stream_id: Mapped[str] = mapped_column(
        ForeignKey("ssf_streams.id", ondelete="CASCADE"), index=True
    )
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    claims: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_event_id: Mapped[str | None] = mapped_column(String(26))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending`` → ``delivered`` (push accepted, poll acknowledged) or ``failed``."""
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class SsfCursor(Base):
    """How far the transmitter has read the event log (one row, ``id = 1``)."""

    __tablename__ = "ssf_cursor"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class Playbook(Base):
    """A response playbook: which alerts it answers (``match``), what it does
    (``actions``) and whether it acts or only says what it would (``mode``)."""

    __tablename__ = "respond_playbooks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    mode: Mapped[str] = mapped_column(String(20), default="live")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ThreatLevel(Base):
    """The platform-wide threat level (one row): ``normal``, ``elevated``, ``high``,
    ``critical``, who set it and why."""

    __tablename__ = "respond_threat_level"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
