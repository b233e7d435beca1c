"""Several nodes: one holds the live detector; another takes over from where it stopped,
with the stored baselines, and scores each event once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from limen.audit import Actor, AuditKeys, link_pending
from limen.audit.ingest import ReportedActor, ReportedEvent, ingest
from limen.config import Settings
from limen.detect.live import LiveDetector
from limen.store import Database


def _report(db: Database, count: int, start: datetime) -> None:
    events = [
        ReportedEvent(
            occurred_at=start + timedelta(minutes=n),
            actor=ReportedActor(name="node-bot", kind="service"),
            action="db.query",
            resource_type="db",
            resource_id="analytics",
        )
        for n in range(count)
    ]
    with db.unit_of_work() as uow:
        ingest(uow, Actor.operator(), events)


def test_one_node_scores_and_another_takes_over_where_it_stopped(
    db: Database, settings: Settings, installed: Any
) -> None:
    keys = AuditKeys.from_key_file(settings.resolved_key_file)

    def link() -> None:
        link_pending(db, keys.chain, wait=False)

    first, second = LiveDetector(db, link=link), LiveDetector(db, link=link)
    start = datetime.now(UTC) - timedelta(hours=2)
    _report(db, 30, start)
    assert first.run_once() > 0
    assert second.run_once() == 0  # the first holds the lease
    scored = first.scored
    assert scored >= 30

    first.stop()  # a clean stop hands the lease over at once
    _report(db, 5, start + timedelta(minutes=40))
    assert second.run_once() == 5
    assert second.scored == 5  # nothing the first node scored is scored again
    assert second.detector is not None
    learned = [b for b in second.detector.baselines.values() if b.n >= 30]
    assert learned, "the baselines the first node stored were loaded"
    assert first.run_once() == 0  # and the first node, back, finds the lease taken
