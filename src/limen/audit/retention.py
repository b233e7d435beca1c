"""Retention: prune the oldest events, but only under a signed checkpoint.

Pruning deletes a prefix of the chain that ends exactly at a signed checkpoint's
position, so verification can start from that checkpoint and still check every event
that remains.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit._keys import AuditKeys
from limen.audit._pruning import PrunePlan, PruneResult
from limen.audit.actor import Actor
from limen.audit.chain import head, link_pending
from limen.audit.checkpoints import SignedCheckpoint, list_checkpoints
from limen.audit.errors import CheckpointRequired
from limen.audit.log import record
from limen.store import Database
from limen.store.models import Event

__all__ = ["PrunePlan", "PruneResult", "plan_prune", "prune"]


def _anchor(
    session: Session, keys: AuditKeys, before: datetime, *, through: int | None = None
) -> tuple[SignedCheckpoint | None, int]:
    """The newest signed checkpoint that only covers events older than ``before``, and
    the position already pruned through.

    Raises :class:`CheckpointRequired` if old events exist but no checkpoint covers any.
    """
    current = head(session.connection())
    young = session.scalar(
        sa.select(sa.func.min(Event.chain_pos)).where(
            Event.chain_pos.is_not(None), Event.occurred_at >= before
        )
    )
    limit = (young - 1) if young is not None else current.position
    if through is not None:
        limit = min(limit, through)
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
        return None, current.pruned_through
    return max(candidates, key=lambda c: c.position), current.pruned_through


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def plan_prune(db: Database, keys: AuditKeys, *, before: datetime) -> PrunePlan:
    """What pruning events older than ``before`` would delete, changing nothing."""
    before = _utc(before)
    link_pending(db, keys.chain)
    with db.unit_of_work(readonly=True) as uow:
        anchor, pruned_through = _anchor(uow.session, keys, before)
        if anchor is None:
            return PrunePlan(0, pruned_through, pruned_through, None)
        count = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(Event)
            .where(Event.chain_pos.is_not(None), Event.chain_pos <= anchor.position)
        )
        return PrunePlan(int(count or 0), pruned_through + 1, anchor.position, anchor.id)


def prune(
    db: Database,
    keys: AuditKeys,
    actor: Actor,
    *,
    before: datetime,
    reason: str | None = None,
    through: int | None = None,
) -> PruneResult:
    """Delete events older than ``before`` up to the newest signed checkpoint that covers them.

    Raises :class:`CheckpointRequired` if old events exist but no checkpoint covers any.
    ``reason`` is recorded with the ``audit.prune`` event; ``through`` caps the deletion
    at a position (the one a :class:`PrunePlan` that was confirmed named).
    """
    before = _utc(before)
    link_pending(db, keys.chain)
    with db.unit_of_work() as uow:
        session = uow.session
        anchor, pruned_through = _anchor(session, keys, before, through=through)
        if anchor is None:
            return PruneResult(0, pruned_through, None)
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
            reason=reason,
            context={"deleted": deleted, "checkpoint_id": anchor.id, "before": before.isoformat()},
        )
        return PruneResult(deleted, anchor.position, anchor.id)
