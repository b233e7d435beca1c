"""The SSF outbox reads the event log in order and waits on holes a moment, not forever."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from limen import identity
from limen.audit import Actor
from limen.installation import InitResult
from limen.respond import ssf
from limen.respond.ssf import outbox
from limen.store import Database
from limen.store.models import Event, SsfCursor, SsfOutbox, utcnow


def _event(seq: int, subject: str, *, age: timedelta) -> Event:
    return Event(
        seq=seq,
        occurred_at=utcnow() - age,
        actor_kind="system",
        actor_name="test",
        action="identity.suspend",
        resource_type="identity",
        resource_id=subject,
        outcome="success",
        context={},
    )


def test_a_young_hole_in_the_sequence_is_waited_on_an_old_one_skipped(
    db: Database, installed: InitResult
) -> None:
    with db.unit_of_work() as uow:
        receiver = identity.create(uow, Actor.system("test"), kind="service", name="rx")
        target = identity.create(uow, Actor.system("test"), kind="service", name="target")
    actor = Actor(kind="service", name="rx", identity_id=receiver.id)
    with db.unit_of_work() as uow:
        stream = ssf.create_stream(
            uow,
            actor,
            {"events_requested": [ssf.ACCOUNT_DISABLED]},
            issuer="https://limen.example",
            audience=receiver.id,
        )
        stream.created_at = utcnow() - timedelta(minutes=1)
    with db.unit_of_work() as uow:
        start = uow.session.get(SsfCursor, 1).last_seq
        top = uow.session.scalar(sa.select(sa.func.max(Event.seq))) or 0
        # Events up to ``top`` (the stream's own creation) are read first.
        outbox.fan_out(uow)
    assert start <= top

    with db.unit_of_work() as uow:
        # seq top+1 is missing: a transaction that took it may still commit.
        uow.session.add(_event(top + 2, target.id, age=timedelta(0)))
    with db.unit_of_work() as uow:
        assert outbox.fan_out(uow) == 0
        assert uow.session.get(SsfCursor, 1).last_seq == top

    # The late transaction commits: both events go out, in order.
    with db.unit_of_work() as uow:
        uow.session.add(_event(top + 1, target.id, age=timedelta(0)))
    with db.unit_of_work() as uow:
        assert outbox.fan_out(uow) == 2
        assert uow.session.get(SsfCursor, 1).last_seq == top + 2

    # A hole older than the grace period was a rollback: skipped.
    with db.unit_of_work() as uow:
        uow.session.add(_event(top + 4, target.id, age=outbox.GAP_GRACE * 2))
    with db.unit_of_work() as uow:
        assert outbox.fan_out(uow) == 1
        assert uow.session.get(SsfCursor, 1).last_seq == top + 4
        rows = uow.session.scalars(sa.select(SsfOutbox).order_by(SsfOutbox.seq)).all()
    assert [r.claims["sub_id"]["sub"] for r in rows] == [target.id] * 3
    assert all(r.claims["iss"] == "https://limen.example" for r in rows)
