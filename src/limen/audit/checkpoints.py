"""Signed checkpoints: an Ed25519 signature over the chain head at one position.

A checkpoint states "the event at position N is E and its link is L". Kept outside the
database (``limen audit checkpoint --export DIR`` or a sink), it lets verification catch
what the chain alone cannot: a truncated tail, or a chain relinked from some point on.
It also anchors verification after pruning and lets verification resume where it last
succeeded.
"""

from __future__ import annotations

import base64

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit._keys import AuditKeys
from limen.audit._signed import SignedCheckpoint, export_checkpoints, load_checkpoints
from limen.audit.actor import Actor
from limen.audit.chain import head
from limen.audit.log import record
from limen.store import Database
from limen.store.models import AuditCheckpoint, Event, utcnow

__all__ = [
    "SignedCheckpoint",
    "create_checkpoint",
    "export_checkpoints",
    "list_checkpoints",
    "load_checkpoints",
]


def create_checkpoint(
    db: Database, keys: AuditKeys, *, force: bool = False, actor: Actor | None = None
) -> SignedCheckpoint | None:
    """Sign the current chain head. Returns ``None`` if nothing is linked yet.

    Without ``force``, the latest checkpoint is returned instead of a new one when nothing
    but its own ``audit.checkpoint`` event was linked since. ``actor`` is who asked for it
    (over HTTP); the host's own checkpoints are recorded as ``limen audit``.
    """
    with db.unit_of_work() as uow:
        current = head(uow.session.connection())
        if current.position == 0 or current.event_id is None:
            return None
        latest = uow.session.scalar(
            sa.select(AuditCheckpoint).order_by(AuditCheckpoint.position.desc()).limit(1)
        )
        if latest is not None and not force:
            # Nothing new since the last checkpoint but that checkpoint's own event.
            newer = uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(Event)
                .where(Event.chain_pos > latest.position, Event.action != "audit.checkpoint")
            )
            if not newer:
                return SignedCheckpoint.from_row(latest)
        row = AuditCheckpoint(
            position=current.position,
            event_id=current.event_id,
            link=current.link.hex(),
            created_at=utcnow(),
            public_key=keys.public_key,
            signature="",
        )
        unsigned = SignedCheckpoint.from_row(row)
        row.signature = base64.b64encode(keys.signing.sign(unsigned.payload)).decode("ascii")
        uow.session.add(row)
        uow.flush()
        signed = SignedCheckpoint.from_row(row)
        # The checkpoint travels as an event too, so every push sink (webhook, JetStream,
        # file) and the Events-API feed carry it off the database host.
        record(
            uow.session,
            actor or Actor.system("limen audit"),
            "audit.checkpoint",
            resource_type="audit_checkpoint",
            resource_id=signed.id,
            context={"checkpoint": signed.to_document()},
        )
        return signed


def list_checkpoints(session: Session) -> list[SignedCheckpoint]:
    rows = session.scalars(sa.select(AuditCheckpoint).order_by(AuditCheckpoint.position))
    return [SignedCheckpoint.from_row(row) for row in rows]
