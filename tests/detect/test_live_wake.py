"""The live detector wakes when events are appended, here or in another process, instead
of waiting for its next look: these detectors look on their own only once an hour."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from limen.audit import Actor, AuditKeys, link_pending
from limen.audit.ingest import ReportedActor, ReportedEvent, ingest
from limen.config import Settings
from limen.detect.live import LiveDetector, scored_through
from limen.store import Database
from limen.store.models import Event

HOUR = 3600.0


def _report(db: Database, name: str, count: int) -> list[str]:
    start = datetime.now(UTC) - timedelta(hours=1)
    events = [
        ReportedEvent(
            occurred_at=start + timedelta(minutes=n),
            actor=ReportedActor(name=name, kind="service"),
            action="db.query",
            resource_type="db",
            resource_id="analytics",
        )
        for n in range(count)
    ]
    with db.unit_of_work() as uow:
        return ingest(uow, Actor.operator(), events).ids


def _scored(db: Database, ids: list[str] | None = None) -> bool:
    with db.unit_of_work(readonly=True) as uow:
        query = sa.select(Event.chain_pos)
        if ids is not None:
            query = query.where(Event.id.in_(ids))
        positions = list(uow.session.scalars(query))
        done = scored_through(uow.session)
    return bool(positions) and None not in positions and max(positions) <= done


def _until(condition: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.02)


def _detector(db: Database, settings: Settings) -> LiveDetector:
    keys = AuditKeys.from_key_file(settings.resolved_key_file)
    node = LiveDetector(db, link=lambda: link_pending(db, keys.chain, wait=False), interval=HOUR)
    node.start()
    # Idle: it holds every partition and has scored the whole log (the installation's).
    _until(lambda: len(node.partitions) == 64 and _scored(db), "the detector did not start")
    return node


def test_events_committed_in_this_process_are_scored_without_waiting_for_a_look(
    db: Database, settings: Settings, installed: Any
) -> None:
    node = _detector(db, settings)
    try:
        ids = _report(db, "wake-svc", 3)
        _until(lambda: _scored(db, ids), "the events were not scored: no nudge woke it")
        assert node.scored >= 3
    finally:
        node.stop()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_events_committed_by_another_process_wake_the_detector(
    db: Database, settings: Settings, installed: Any
) -> None:
    node = _detector(db, settings)
    writer = Database(settings.resolved_database_url)  # another node: its own feed
    AuditKeys.from_key_file(settings.resolved_key_file).attach(writer)
    writer.broadcaster.start()
    try:
        assert writer.broadcaster.ready.wait(10)
        ids = _report(writer, "far-svc", 3)
        _until(lambda: _scored(db, ids), "the events were not scored: no NOTIFY woke it")
        assert node.scored >= 3
    finally:
        node.stop()
        writer.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_sqlite_a_command_beside_the_server_wakes_the_detector(
    db: Database, settings: Settings, installed: Any
) -> None:
    node = _detector(db, settings)
    command = Database(settings.resolved_database_url)  # another process: it tells nobody
    AuditKeys.from_key_file(settings.resolved_key_file).attach(command)
    try:
        ids = _report(command, "cli-svc", 3)
        _until(lambda: _scored(db, ids), "the events were not scored: the poll did not wake it")
        assert node.scored >= 3
    finally:
        node.stop()
        command.dispose()
