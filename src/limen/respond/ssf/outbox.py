"""The SET outbox: from the event log into per-stream rows, and out by push or poll.

Rows are written in the database, so a receiver outage or a restart of Limen loses
nothing: a push that failed is retried with backoff until it is accepted, and a polled
SET stays available until the receiver acknowledges it.

Several nodes may run the transmitter at once. Fan-out holds the cursor row for the
length of one short transaction; push delivery *leases* due rows (moves their next
attempt past the lease) in one transaction and sends outside it, so no database lock is
held while a receiver is slow, and a node that dies mid-push only delays that SET by
the lease.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, Outcome, record
from limen.ids import new_id
from limen.respond.ssf.events import SOURCE_ACTIONS, set_claims, signals_for
from limen.respond.ssf.streams import POLL, PUSH, events_delivered
from limen.store import UnitOfWork
from limen.store.models import Event, SsfCursor, SsfOutbox, SsfStream, utcnow

__all__ = [
    "GAP_GRACE",
    "Lease",
    "acknowledge",
    "fan_out",
    "has_work",
    "lease_due",
    "pending_for_poll",
    "prunable",
    "prune",
    "settle",
]

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
FAILED: Final = "failed"

GAP_GRACE: Final = timedelta(seconds=5)
"""How long a hole in the event sequence is waited on before it is taken as a rollback."""


def fan_out(uow: UnitOfWork, *, batch: int = 500, now: datetime | None = None) -> int:
    """Turn new log events into outbox rows for the streams that asked for them.

    Returns how many rows were added. Reads at most ``batch`` events per call.
    """
    now = now or utcnow()
    session = uow.session
    cursor = session.scalar(sa.select(SsfCursor).where(SsfCursor.id == 1).with_for_update())
    if cursor is None:  # no stream was ever created: nothing to send, nothing to track
        return 0
    events = session.scalars(
        sa.select(Event).where(Event.seq > cursor.last_seq).order_by(Event.seq).limit(batch)
    ).all()
    if not events:
        return 0
    streams = session.scalars(sa.select(SsfStream).where(SsfStream.status != "disabled")).all()
    created = 0
    expected = cursor.last_seq + 1
    for event in events:
        # Sequence values are taken at insert and become visible at commit, so a hole may
        # be a transaction still in flight. Wait for it a little; after the grace period
        # it was a rollback.
        if event.seq != expected and event.occurred_at > now - GAP_GRACE:
            break
        expected = event.seq + 1
        cursor.last_seq = event.seq
        if event.action not in SOURCE_ACTIONS or not streams:
            continue
        for signal in signals_for(session, event):
            for stream in streams:
                if signal.event_type not in events_delivered(stream):
                    continue
                if event.occurred_at < stream.created_at:
                    continue
                jti = new_id()
                claims = set_claims(
                    issuer=stream.iss,
                    audience=list(stream.aud),
                    event_type=signal.event_type,
                    subject={"format": "iss_sub", "iss": stream.iss, "sub": signal.subject_id},
                    payload=signal.payload,
                    issued_at=int(now.timestamp()),
                    txn=signal.source_event_id,
                    jti=jti,
                )
                session.add(
                    SsfOutbox(
                        jti=jti,
                        stream_id=stream.id,
                        event_types=[signal.event_type],
                        claims=claims,
                        source_event_id=signal.source_event_id,
                        next_attempt_at=now,
                    )
                )
                created += 1
    uow.flush()
    return created


def has_work(session: Session, *, now: datetime | None = None) -> bool:
    """Whether the log has events past the cursor or a push is due: a cheap read.

    The worker asks this first, so an idle node never opens a writing transaction (on
    SQLite that would queue behind every other writer).
    """
    now = now or utcnow()
    last = session.scalar(sa.select(SsfCursor.last_seq).where(SsfCursor.id == 1))
    if last is None:
        return False
    if session.scalar(sa.select(Event.seq).where(Event.seq > last).limit(1)) is not None:
        return True
    due = session.scalar(
        sa.select(SsfOutbox.seq)
        .join(SsfStream, SsfStream.id == SsfOutbox.stream_id)
        .where(
            SsfOutbox.state == PENDING,
            SsfOutbox.next_attempt_at <= now,
            SsfStream.delivery_method == PUSH,
            SsfStream.status == "enabled",
        )
        .limit(1)
    )
    return due is not None


@dataclass(frozen=True, slots=True)
class Lease:
    """One SET leased for a push attempt, with what the push needs to send it."""

    seq: int
    jti: str
    stream_id: str
    receiver_id: str
    endpoint_url: str
    authorization_header: str | None
    claims: dict[str, Any]
    attempts: int
    signing_alg: str | None = None
    """The stream's JWS algorithm; ``None``: the transmitter's default."""


def lease_due(
    uow: UnitOfWork,
    *,
    limit: int = 50,
    lease: timedelta = timedelta(seconds=30),
    now: datetime | None = None,
) -> list[Lease]:
    """Take up to ``limit`` push SETs that are due, moving their next attempt past ``lease``."""
    now = now or utcnow()
    query = (
        sa.select(SsfOutbox, SsfStream)
        .join(SsfStream, SsfStream.id == SsfOutbox.stream_id)
        .where(
            SsfOutbox.state == PENDING,
            SsfOutbox.next_attempt_at <= now,
            SsfStream.delivery_method == PUSH,
            SsfStream.status == "enabled",
        )
        .order_by(SsfOutbox.seq)
        .limit(limit)
    )
    # Another node leasing at the same moment skips these rows instead of waiting.
    # (SQLAlchemy renders no lock on SQLite, whose writers take turns anyway.)
    query = query.with_for_update(skip_locked=True, of=SsfOutbox)
    leased = []
    for row, stream in uow.session.execute(query).all():
        row.next_attempt_at = now + lease
        leased.append(
            Lease(
                seq=row.seq,
                jti=row.jti,
                stream_id=stream.id,
                receiver_id=stream.receiver_id,
                endpoint_url=stream.endpoint_url or "",
                authorization_header=stream.authorization_header,
                claims=dict(row.claims),
                attempts=row.attempts,
                signing_alg=stream.signing_alg,
            )
        )
    uow.flush()
    return leased


def settle(
    uow: UnitOfWork,
    lease: Lease,
    *,
    delivered: bool,
    permanent: bool = False,
    error: str | None = None,
    retry_at: datetime | None = None,
    actor: Actor,
    now: datetime | None = None,
) -> None:
    """Record the outcome of one push attempt, and an event naming the receiver."""
    now = now or utcnow()
    row = uow.session.get(SsfOutbox, lease.seq)
    if row is None:  # the stream was deleted meanwhile
        return
    row.attempts += 1
    row.last_error = error
    if delivered:
        row.state = DELIVERED
        row.delivered_at = now
    elif permanent or retry_at is None:
        row.state = FAILED
    else:
        row.next_attempt_at = retry_at
    record(
        uow.session,
        actor,
        "ssf.push",
        resource_type="ssf_stream",
        resource_id=lease.stream_id,
        outcome=Outcome.SUCCESS if delivered else Outcome.FAILURE,
        reason=error,
        context={
            "jti": lease.jti,
            "receiver_id": lease.receiver_id,
            "events": list(lease.claims.get("events", {})),
            "attempt": row.attempts,
            "state": row.state,
        },
        now=now,
    )


def acknowledge(
    uow: UnitOfWork,
    stream: SsfStream,
    *,
    ack: Sequence[str] = (),
    set_errs: Mapping[str, Mapping[str, Any]] | None = None,
    now: datetime | None = None,
) -> int:
    """Mark polled SETs acknowledged or rejected (RFC 8936 §2.4). Unknown jtis are ignored."""
    now = now or utcnow()
    settled = 0
    errors = dict(set_errs or {})
    jtis = list(dict.fromkeys([*ack, *errors]))
    if not jtis:
        return 0
    rows = uow.session.scalars(
        sa.select(SsfOutbox).where(SsfOutbox.stream_id == stream.id, SsfOutbox.jti.in_(jtis))
    ).all()
    for row in rows:
        row.attempts += 1
        if row.jti in errors:
            err = errors[row.jti] or {}
            row.state = FAILED
            row.last_error = f"{err.get('err', 'error')}: {err.get('description', '')}"[:1000]
        else:
            row.state = DELIVERED
            row.delivered_at = now
        settled += 1
    uow.flush()
    return settled


def pending_for_poll(
    session: Session, stream: SsfStream, *, max_events: int
) -> tuple[list[SsfOutbox], bool]:
    """The oldest unacknowledged SETs of a poll stream, and whether more are waiting."""
    if stream.delivery_method != POLL or stream.status != "enabled" or max_events <= 0:
        more = False
        if stream.delivery_method == POLL and stream.status == "enabled":
            more = _has_pending(session, stream)
        return [], more
    rows = session.scalars(
        sa.select(SsfOutbox)
        .where(SsfOutbox.stream_id == stream.id, SsfOutbox.state == PENDING)
        .order_by(SsfOutbox.seq)
        .limit(max_events + 1)
    ).all()
    return list(rows[:max_events]), len(rows) > max_events


def _has_pending(session: Session, stream: SsfStream) -> bool:
    return (
        session.scalar(
            sa.select(SsfOutbox.seq)
            .where(SsfOutbox.stream_id == stream.id, SsfOutbox.state == PENDING)
            .limit(1)
        )
        is not None
    )


def _stale(older_than: timedelta, now: datetime | None) -> sa.ColumnElement[bool]:
    cutoff = (now or utcnow()) - older_than
    return sa.and_(SsfOutbox.state.in_([DELIVERED, FAILED]), SsfOutbox.created_at < cutoff)


def prunable(session: Session, *, older_than: timedelta, now: datetime | None = None) -> bool:
    """Whether :func:`prune` would remove anything (a read, so idle nodes do not write)."""
    stale = sa.select(SsfOutbox.seq).where(_stale(older_than, now)).limit(1)
    return session.scalar(stale) is not None


def prune(uow: UnitOfWork, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Forget delivered and failed SETs older than ``older_than``; the audit log keeps the story."""
    result = uow.session.execute(sa.delete(SsfOutbox).where(_stale(older_than, now)))
    return int(result.rowcount or 0)
