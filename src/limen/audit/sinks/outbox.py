"""Sink registry and dispatcher; delivery state lives in ``audit_sinks``.

Only one node delivers to a sink at a time: a dispatcher takes a short lease on the
sink's row in its own transaction, delivers without holding any database lock, then
advances the position only if it still holds the lease. A node that dies mid-delivery
leaves a lease that simply expires.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit._keys import AuditKeys
from limen.audit.actor import Actor
from limen.audit.chain import link_pending
from limen.audit.documents import event_document
from limen.audit.errors import SinkExists, SinkNotFound
from limen.audit.log import record
from limen.audit.sinks.base import SINK_KINDS, Sink, SinkFailure
from limen.errors import InvalidInput, unknown_choice
from limen.ids import is_id, new_id
from limen.store import Database
from limen.store.models import AuditSink, Event, utcnow

__all__ = ["SinkStatus", "add_sink", "deliver_due", "get_sink", "list_sinks", "remove_sink"]

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(seconds=60)
BATCH = 500


@dataclass(frozen=True, slots=True)
class SinkStatus:
    id: str
    name: str
    kind: str
    target: str
    enabled: bool
    delivered_through: int
    delivered_count: int
    pending: int
    failures: int
    last_error: str | None
    next_attempt_at: datetime | None

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "target": self.target,
            "enabled": self.enabled,
            "delivered_through": self.delivered_through,
            "delivered_count": self.delivered_count,
            "pending": self.pending,
            "failures": self.failures,
            "last_error": self.last_error,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
        }


def _target(sink: AuditSink) -> str:
    config = sink.config or {}
    if sink.kind == "webhook":
        return str(config.get("url", ""))
    if sink.kind == "nats":
        return f"{config.get('url', '')} {config.get('subject', '')}"
    return str(config.get("path", ""))


def _status(session: Session, sink: AuditSink) -> SinkStatus:
    pending = session.scalar(
        sa.select(sa.func.count())
        .select_from(Event)
        .where(Event.chain_pos.is_not(None), Event.chain_pos > sink.delivered_through)
    )
    return SinkStatus(
        id=sink.id,
        name=sink.name,
        kind=sink.kind,
        target=_target(sink),
        enabled=sink.enabled,
        delivered_through=sink.delivered_through,
        delivered_count=sink.delivered_count,
        pending=int(pending or 0),
        failures=sink.failures,
        last_error=sink.last_error,
        next_attempt_at=sink.next_attempt_at,
    )


def _config(kind: str, target: str, *, subject: str | None, stream: str | None) -> dict[str, Any]:
    if kind == "webhook":
        if not target.startswith(("http://", "https://")):
            raise InvalidInput("a webhook sink needs an http:// or https:// URL")
        return {"url": target}
    if kind == "nats":
        if not target.startswith(("nats://", "tls://")) or not subject:
            raise InvalidInput("a NATS sink needs a nats:// URL and --subject")
        return {"url": target, "subject": subject, "stream": stream}
    if kind == "jsonl":
        path = Path(target).expanduser()
        if not path.is_absolute():
            raise InvalidInput("a JSON Lines sink needs an absolute file path")
        return {"path": str(path)}
    raise InvalidInput(unknown_choice("sink kind", kind, SINK_KINDS))


def add_sink(
    db: Database,
    keys: AuditKeys,
    actor: Actor,
    *,
    name: str,
    kind: str,
    target: str,
    subject: str | None = None,
    stream: str | None = None,
    from_start: bool = True,
) -> tuple[SinkStatus, str | None]:
    """Register a sink; returns it and, for a webhook, its signing secret (shown once).

    ``from_start`` delivers the whole retained log; otherwise only events from now on.
    """
    config = _config(kind, target, subject=subject, stream=stream)
    if not from_start:
        # "From now" means after everything already appended, linked or not.
        link_pending(db, keys.chain)
    with db.unit_of_work() as uow:
        session = uow.session
        if session.scalar(sa.select(AuditSink).where(AuditSink.name == name)) is not None:
            raise SinkExists(f"a sink named {name!r} already exists")
        start = 0
        if not from_start:
            start = session.scalar(sa.select(sa.func.max(Event.chain_pos))) or 0
        sink = AuditSink(id=new_id(), name=name, kind=kind, config=config, delivered_through=start)
        session.add(sink)
        uow.flush()
        record(
            session,
            actor,
            "audit.sink.create",
            resource_type="audit_sink",
            resource_id=sink.id,
            resource_name=name,
            context={"kind": kind},
        )
        secret = None
        if kind == "webhook":
            secret = base64.urlsafe_b64encode(keys.sink_secret(sink.id)).decode().rstrip("=")
        return _status(session, sink), secret


def _find(session: Session, ref: str) -> AuditSink:
    sink = session.get(AuditSink, ref) if is_id(ref) else None
    sink = sink or session.scalar(sa.select(AuditSink).where(AuditSink.name == ref))
    if sink is None:
        raise SinkNotFound(f"no sink {ref!r}")
    return sink


def get_sink(session: Session, ref: str) -> SinkStatus:
    return _status(session, _find(session, ref))


def list_sinks(session: Session) -> list[SinkStatus]:
    return [
        _status(session, s) for s in session.scalars(sa.select(AuditSink).order_by(AuditSink.name))
    ]


def remove_sink(db: Database, actor: Actor, ref: str) -> None:
    with db.unit_of_work() as uow:
        sink = _find(uow.session, ref)
        uow.session.delete(sink)
        record(
            uow.session,
            actor,
            "audit.sink.delete",
            resource_type="audit_sink",
            resource_id=sink.id,
            resource_name=sink.name,
        )


def _build(sink: AuditSink, keys: AuditKeys) -> Sink:
    from limen.audit.sinks.jsonl import JsonLinesSink
    from limen.audit.sinks.nats import JetStreamSink
    from limen.audit.sinks.webhook import WebhookSink

    config = sink.config or {}
    if sink.kind == "webhook":
        return WebhookSink(
            sink.id, config["url"], base64.urlsafe_b64encode(keys.sink_secret(sink.id)).rstrip(b"=")
        )
    if sink.kind == "nats":
        return JetStreamSink(config["url"], config["subject"], stream=config.get("stream"))
    return JsonLinesSink(Path(config["path"]))


def deliver_due(
    db: Database, keys: AuditKeys, *, now: datetime | None = None, owner: str | None = None
) -> int:
    """Offer every due sink its next batch; return how many events were acknowledged."""
    now = now or utcnow()
    owner = owner or new_id()
    with db.unit_of_work(readonly=True) as uow:
        due = list(
            uow.session.scalars(
                sa.select(AuditSink.id).where(
                    AuditSink.enabled.is_(True),
                    sa.or_(AuditSink.next_attempt_at.is_(None), AuditSink.next_attempt_at <= now),
                )
            )
        )
    delivered = 0
    for sink_id in due:
        delivered += _deliver_one(db, keys, sink_id, now=now, owner=owner)
    return delivered


def _deliver_one(db: Database, keys: AuditKeys, sink_id: str, *, now: datetime, owner: str) -> int:
    with db.unit_of_work() as uow:
        taken = uow.session.execute(
            sa.update(AuditSink)
            .where(
                AuditSink.id == sink_id,
                sa.or_(
                    AuditSink.lease_until.is_(None),
                    AuditSink.lease_until < now,
                    AuditSink.lease_owner == owner,
                ),
            )
            .values(lease_owner=owner, lease_until=now + LEASE)
        ).rowcount
        if not taken:
            return 0
        sink = uow.session.get(AuditSink, sink_id)
        assert sink is not None
        failures = sink.failures
    try:
        documents = _next_batch(db, sink_id)
        if not documents:
            _release(db, sink_id, owner, values={})
            return 0
        with db.unit_of_work(readonly=True) as uow:
            row = uow.session.get(AuditSink, sink_id)
            assert row is not None
            target = _build(row, keys)
        target.deliver(documents)
    except SinkFailure as exc:
        error = str(exc)
        log.warning("audit sink %s: %s; retrying", sink_id, error)
    except Exception as exc:
        # Not the destination refusing but the worker itself failing (a sink written by
        # another version, a module gone after an upgrade under a running server). It is
        # counted and shown like any failure, so `limen sink list` says that something
        # is wrong instead of showing a queue that silently grows.
        error = f"the sink worker failed ({type(exc).__name__}); the server log has the details"
        log.exception("audit sink %s: delivery failed", sink_id)
    else:
        last = documents[-1]["chain_position"]
        _release(
            db,
            sink_id,
            owner,
            values={
                "delivered_through": last,
                "delivered_count": AuditSink.delivered_count + len(documents),
                "failures": 0,
                "last_error": None,
                "next_attempt_at": None,
            },
        )
        return len(documents)
    backoff = min(timedelta(seconds=0.5) * (2**failures), MAX_BACKOFF)
    _release(
        db,
        sink_id,
        owner,
        values={
            "failures": AuditSink.failures + 1,
            "last_error": error[:500],
            "next_attempt_at": now + backoff,
        },
    )
    return 0


def _next_batch(db: Database, sink_id: str) -> Sequence[dict[str, Any]]:
    with db.unit_of_work(readonly=True) as uow:
        sink = uow.session.get(AuditSink, sink_id)
        assert sink is not None
        events = uow.session.scalars(
            sa.select(Event)
            .where(Event.chain_pos.is_not(None), Event.chain_pos > sink.delivered_through)
            .order_by(Event.chain_pos)
            .limit(BATCH)
        )
        return [event_document(e) for e in events]


def _release(db: Database, sink_id: str, owner: str, *, values: dict[str, Any]) -> None:
    with db.unit_of_work() as uow:
        uow.session.execute(
            sa.update(AuditSink)
            .where(AuditSink.id == sink_id, AuditSink.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, **values)
        )
