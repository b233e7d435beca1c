"""Recording events: what one transaction records is stored whole and in order."""

from __future__ import annotations

from limen.audit import EventFilter, list_events
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
