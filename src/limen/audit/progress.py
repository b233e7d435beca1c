"""How far the trail has got: the chain head's position and each push sink's lag.

Read by ``/metrics`` at each scrape; both are one small read.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from limen.audit.chain import head
from limen.store import Database
from limen.store.models import AuditSink

__all__ = ["AuditProgress", "audit_progress"]


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
