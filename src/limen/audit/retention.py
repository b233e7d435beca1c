"""Retention: prune the oldest events, but only under a signed checkpoint.

Pruning deletes a prefix of the chain that ends exactly at a signed checkpoint's
position, so verification can start from that checkpoint and still check every event
that remains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from limen.audit._keys import AuditKeys
from limen.audit.actor import Actor
from limen.audit.chain import head, link_pending
from limen.audit.checkpoints import list_checkpoints
from limen.audit.errors import CheckpointRequired
from limen.audit.log import record
from limen.store import Database
from limen.store.models import Event

__all__ = ["PruneResult", "prune"]


@dataclass(frozen=True, slots=True)
class PruneResult:
    deleted: int
    through_position: int
    checkpoint_id: str | None


def prune(db: Database, keys: AuditKeys, actor: Actor, *, before: datetime) -> PruneResult:
    """Delete events older than ``before`` up to the newest signed checkpoint that covers them.

    Raises :class:`CheckpointRequired` if old events exist but no checkpoint covers any.
    """
    before = before.replace(tzinfo=UTC) if before.tzinfo is None else before
    link_pending(db, keys.chain)
    with db.unit_of_work() as uow:
        session = uow.session
        current = head(session.connection())
        young = session.scalar(
            sa.select(sa.func.min(Event.chain_pos)).where(
                Event.chain_pos.is_not(None), Event.occurred_at >= before
            )
        )
        limit = (young - 1) if young is not None else current.position
        candidates = [
            c
            for c in list_checkpoints(session)
            if current.pruned_through < c.position <= limit and c.is_signed_by(keys.public_key)
        ]
        if not candidates:
            if limit > current.pruned_through:
                raise CheckpointRequired(
                    "no signed checkpoint covers the events before that time; run "
                    "`limen audit checkpoint` first"
                )
            return PruneResult(0, current.pruned_through, None)
        anchor = max(candidates, key=lambda c: c.position)
        deleted = session.execute(
            sa.delete(Event).where(Event.chain_pos.is_not(None), Event.chain_pos <= anchor.position)
        ).rowcount
        session.execute(
            sa.text("UPDATE audit_chain_head SET pruned_through = :p WHERE id = 1"),
            {"p": anchor.position},
        )
        record(
            session,
            actor,
            "audit.prune",
            resource_type="audit_chain",
            resource_id=str(anchor.position),
            context={"deleted": deleted, "checkpoint_id": anchor.id, "before": before.isoformat()},
        )
        return PruneResult(deleted, anchor.position, anchor.id)
