"""Recording events: what one transaction records is stored whole and in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, AuditKeys, EventFilter, link_pending, list_events, record
from limen.audit.durable import EventWriter
from limen.store import Database
from tests.audit.conftest import append


def test_a_large_transaction_stores_every_event_in_order_with_its_fields(db: Database) -> None:
    # 87 rows: every chunk size the SQLite insert uses (64, 16, 4, 1) and a remainder.
    ids = append(db, 87, action="test.bulk", resource_type="bulk")
    with db.unit_of_work(readonly=True) as uow:
        page = list_events(uow.session, EventFilter(action="test.bulk"), limit=1000)
    assert [e.id for e in page.events] == ids
    assert [e.resource_id for e in page.events] == [str(n) for n in range(87)]
    assert [e.context["n"] for e in page.events] == list(range(87))
    assert {e.resource_type for e in page.events} == {"bulk"}
    assert all(e.occurred_at.tzinfo is not None for e in page.events)


@pytest.mark.parametrize("caller", ["thread", "event loop"])
def test_the_event_writer_stores_a_large_batch_whole_and_in_order(
    db: Database, caller: str
) -> None:
    # More than one statement's worth of rows: written in one transaction, in order
    # (from an event loop on PostgreSQL the loop inserts them itself).
    writer = EventWriter(db)
    recorded: list[str] = []

    def many(session: Session) -> None:
        for n in range(150):
            recorded.append(record(session, Actor.operator(), "test.batch", resource_id=str(n)).id)

    async def from_a_loop() -> None:
        try:
            await writer.written([many])
        finally:
            if db.backend == "postgresql":
                await db.close_async()

    try:
        if caller == "thread":
            writer.write([many])
        else:
            asyncio.run(from_a_loop())
    finally:
        writer.close()
    with db.unit_of_work(readonly=True) as uow:
        page = list_events(uow.session, EventFilter(action="test.batch"), limit=1000)
    assert [e.id for e in page.events] == recorded
    assert [e.resource_id for e in page.events] == [str(n) for n in range(150)]


def test_an_event_linked_while_the_log_is_listed_is_listed(db: Database, keys: AuditKeys) -> None:
    """A listing shows linked events, then pending ones: an event the chainer links while
    the listing runs must still be in it, once."""
    (event_id,) = append(db, 1, action="test.race")
    linked_meanwhile: list[int] = []
    started = []

    def link_after_the_first_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not started and "FROM events" in statement:
            started.append(True)
            linked_meanwhile.append(link_pending(db, keys.chain))

    sa.event.listen(db.engine, "after_cursor_execute", link_after_the_first_read)
    try:
        with db.unit_of_work(readonly=True) as uow:
            page = list_events(uow.session, EventFilter(action="test.race"))
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", link_after_the_first_read)
    assert linked_meanwhile and linked_meanwhile[0] >= 1  # ours among them
    assert [e.id for e in page.events] == [event_id]


def test_an_event_recorded_where_nothing_commits_is_an_error_not_a_silent_loss(
    db: Database,
) -> None:
    with (
        pytest.raises(RuntimeError, match="read-only unit of work"),
        db.unit_of_work(readonly=True) as uow,
    ):
        record(uow.session, Actor.operator(), "test.readonly")
    with db.unit_of_work(readonly=True) as uow:
        assert list_events(uow.session, EventFilter(action="test.readonly")).events == []
