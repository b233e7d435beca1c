"""Several nodes share the live detector: identities are partitioned among them, each
event is scored once, by the node holding its identity's partition, and the partitions
of a node that stops (cleanly or not) are taken over from the stored state."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from limen.audit import Actor, AuditKeys, link_pending
from limen.audit.documents import event_document
from limen.audit.ingest import ReportedActor, ReportedEvent, ingest
from limen.config import Settings
from limen.detect import Detector
from limen.detect.live import LiveDetector, scored_through
from limen.detect.persistence import decode
from limen.detect.registry import Registry
from limen.store import Database
from limen.store.models import DetectAlert, DetectBaseline, Event


def _report(db: Database, count: int, start: datetime, names: list[str]) -> list[str]:
    events = [
        ReportedEvent(
            occurred_at=start + timedelta(minutes=n),
            actor=ReportedActor(name=names[n % len(names)], kind="service"),
            action="db.query",
            resource_type="db",
            resource_id=f"analytics-{n % 3}",
        )
        for n in range(count)
    ]
    with db.unit_of_work() as uow:
        return ingest(uow, Actor.operator(), events).ids


def _linker(db: Database, settings: Settings) -> Callable[[], None]:
    keys = AuditKeys.from_key_file(settings.resolved_key_file)

    def link() -> None:
        link_pending(db, keys.chain, wait=False)

    return link


def _drive(db: Database, nodes: list[LiveDetector], ids: list[str], timeout: float = 20) -> None:
    """Run the nodes' passes (as their threads would) until every partition passed ``ids``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in nodes:
            node.run_once()
        with db.unit_of_work(readonly=True) as uow:
            positions = list(
                uow.session.scalars(sa.select(Event.chain_pos).where(Event.id.in_(ids)))
            )
            done = scored_through(uow.session)
        if positions and None not in positions and max(positions) <= done:
            return
        time.sleep(0.05)
    raise AssertionError("the nodes did not score the events in time")


def test_one_node_scores_and_another_takes_over_where_it_stopped(
    db: Database, settings: Settings, installed: Any
) -> None:
    link = _linker(db, settings)
    first, second = LiveDetector(db, link=link), LiveDetector(db, link=link)
    start = datetime.now(UTC) - timedelta(hours=2)
    _report(db, 30, start, ["node-bot"])
    assert first.run_once() > 0
    assert second.run_once() == 0  # the first holds every partition
    scored = first.scored
    assert scored >= 30

    first.stop()  # a clean stop hands the partitions over, at the next try of the other
    _report(db, 5, start + timedelta(minutes=40), ["node-bot"])
    deadline = time.monotonic() + 5
    while not (count := second.run_once()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count == 5
    assert second.scored == 5  # nothing the first node scored is scored again
    assert second.detector is not None
    learned = [b for b in second.detector.baselines.values() if b.n >= 30]
    assert learned, "the baselines the first node stored were loaded"
    assert first.run_once() == 0  # and the first node, back, finds the partitions taken


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_nodes_share_the_identities_and_one_takes_over_when_the_other_dies(
    db: Database, settings: Settings, installed: Any
) -> None:
    link = _linker(db, settings)
    names = [f"svc-{n}" for n in range(12)]
    first = LiveDetector(db, link=link, lease=1.5)
    second = LiveDetector(db, link=link, lease=1.5)
    start = datetime.now(UTC) - timedelta(days=2)

    _drive(db, [first], _report(db, 120, start, names))
    assert len(first.partitions) == 64  # alone, it holds them all

    # A second node joins: the first gives half back, the second takes them.
    later = start + timedelta(hours=2)
    deadline = time.monotonic() + 20
    while not (first.partitions and second.partitions) and time.monotonic() < deadline:
        _drive(db, [first, second], _report(db, 12, later, names))
        later += timedelta(minutes=15)
    assert len(first.partitions) == len(second.partitions) == 32
    assert not first.partitions & second.partitions
    before = first.scored, second.scored
    _drive(db, [first, second], _report(db, 240, later, names))
    both = first.scored - before[0], second.scored - before[1]
    assert sum(both) == 240 and min(both) > 0  # each scored its share, nothing twice

    # The second node dies without a word; its partitions lapse and the first takes them.
    _drive(db, [first], _report(db, 120, later + timedelta(hours=5), names))
    assert len(first.partitions) == 64

    # What the two nodes stored is what one detector learns from the whole log, in order:
    # no event was scored twice, none was skipped.
    with db.unit_of_work(readonly=True) as uow:
        reference = Detector(Registry.load(uow.session))
        for row in uow.session.scalars(sa.select(Event).order_by(Event.chain_pos)):
            document = event_document(row)
            if document["actor"]["kind"] == "service":
                reference.score(document)
        stored = {
            subject: decode(state).to_state()
            for subject, state in uow.session.execute(
                sa.select(DetectBaseline.subject, DetectBaseline.state)
            )
        }
    assert len(stored) == len(names)
    assert stored == {key: b.to_state() for key, b in reference.baselines.items()}


def test_a_node_taking_over_continues_the_alert_the_other_raised(
    db: Database, settings: Settings, installed: Any
) -> None:
    from limen import identity

    operator = Actor.operator()
    with db.unit_of_work() as uow:
        identity.create(uow, operator, kind="human", name="mo")
        identity.create(uow, operator, kind="agent", name="mo-bot", owner="mo")
    link = _linker(db, settings)
    first, second = LiveDetector(db, link=link, lease=1.5), LiveDetector(db, link=link, lease=1.5)
    start = datetime.now(UTC) - timedelta(minutes=50)  # an episode idle 30 minutes closes

    def act(at: datetime, count: int) -> list[str]:
        events = [
            ReportedEvent(
                occurred_at=at + timedelta(minutes=n),
                actor=ReportedActor(name="mo-bot", kind="agent"),
                action="db.query",
                resource_type="db",
                resource_id="crm",
            )
            for n in range(count)
        ]
        with db.unit_of_work() as uow:
            return ingest(uow, operator, events).ids

    _drive(db, [first], act(start, 20))
    with db.unit_of_work() as uow:
        identity.suspend(uow, operator, "mo", reason="left")  # her agent acts on alone
    _drive(db, [first], act(start + timedelta(minutes=30), 3))
    with db.unit_of_work(readonly=True) as uow:
        (raised,) = uow.session.scalars(sa.select(DetectAlert)).all()
    assert not raised.closed

    first.stop()  # the other node takes over, and the same episode goes on there
    _drive(db, [second], act(start + timedelta(minutes=40), 3))
    with db.unit_of_work(readonly=True) as uow:
        alerts = uow.session.scalars(sa.select(DetectAlert)).all()
    assert [a.id for a in alerts] == [raised.id]
    assert len(alerts[0].event_ids) > len(raised.event_ids)
