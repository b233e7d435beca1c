"""How far the trail has got: the chain head's position and each push sink's lag
(read by ``/metrics`` at each scrape; both are one small read), and where signing and
verification have got (:func:`chain_status`, for the console).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from limen.audit.chain import head
from limen.store import Database
from limen.store.models import AuditCheckpoint, AuditSink, Event

__all__ = ["AuditProgress", "ChainStatus", "audit_progress", "chain_status"]


@dataclass(frozen=True, slots=True)
class AuditProgress:
    head_position: int
    """Position of the last linked event (0 before the first)."""
    sink_lag: dict[str, int]
    """Per enabled sink, by name: linked events not yet delivered to it."""


def audit_progress(db: Database) -> AuditProgress:
    with db.engine.connect() as connection:
        position = head(connection).position
        rows = connection.execute(
            sa.select(AuditSink.name, AuditSink.delivered_through).where(AuditSink.enabled)
        ).all()
    return AuditProgress(
        head_position=position,
        sink_lag={name: max(0, position - int(through)) for name, through in rows},
    )


@dataclass(frozen=True, slots=True)
class ChainStatus:
    head_position: int
    """Position of the last linked event (0 before the first)."""
    unlinked: int
    """Events appended but not yet linked into the chain (the chainer links them soon)."""
    checkpoints: int
    """Signed checkpoints stored."""
    last_checkpoint_position: int | None
    last_checkpoint_at: datetime | None
    last_verified_position: int | None
    """The newest checkpoint a verification confirmed (``limen audit verify``)."""
    last_verified_at: datetime | None


def chain_status(db: Database) -> ChainStatus:
    """Where the chain, its signed checkpoints and their verification stand: four small
    reads (the head row, two indexed checkpoint rows, a count of the unlinked tail)."""
    with db.engine.connect() as connection:
        chain_head = head(connection)
        count = connection.scalar(sa.select(sa.func.count()).select_from(AuditCheckpoint)) or 0
        last = connection.execute(
            sa.select(AuditCheckpoint.position, AuditCheckpoint.created_at)
            .order_by(AuditCheckpoint.position.desc())
            .limit(1)
        ).first()
        verified = connection.execute(
            sa.select(AuditCheckpoint.position, AuditCheckpoint.verified_at)
            .where(AuditCheckpoint.verified_at.is_not(None))
            .order_by(AuditCheckpoint.position.desc())
            .limit(1)
        ).first()
        unlinked = (
            connection.scalar(
                sa.select(sa.func.count()).select_from(Event).where(Event.chain_pos.is_(None))
            )
            or 0
        )
    return ChainStatus(
        head_position=chain_head.position,
        unlinked=unlinked,
        checkpoints=count,
        last_checkpoint_position=last.position if last else None,
        last_checkpoint_at=last.created_at if last else None,
        last_verified_position=verified.position if verified else None,
        last_verified_at=verified.verified_at if verified else None,
    )
