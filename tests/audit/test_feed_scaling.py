"""The SIEM feed reads a page in chain order, however large the log has grown."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from limen.audit import AuditKeys, link_pending
from limen.audit.feed import FeedCursor, read_feed
from limen.store import Database
from tests.audit.conftest import append


@pytest.mark.parametrize("feature", ["itemusages", "signinattempts", "auditevents"])
def test_a_page_walks_the_chain_index_instead_of_sorting_every_matching_event(
    backend: str, db: Database, keys: AuditKeys, feature: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the plan checked here is SQLite's; PostgreSQL plans from its statistics")
    append(db, 300, action="vault.item.read")
    append(db, 300, action="identity.create")
    link_pending(db, keys.chain)
    statements: list[tuple[str, tuple]] = []

    def capture(_conn, _cursor, statement: str, parameters, *_args) -> None:
        if "FROM events" in statement and "ORDER BY events.chain_pos" in statement:
            statements.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.unit_of_work(readonly=True) as uow:
            page = read_feed(uow.session, FeedCursor.reset(feature, limit=100), account_id="acct")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    assert len(page.items) == (100 if feature != "signinattempts" else 0)
    [(statement, parameters)] = statements
    with db.engine.connect() as conn:
        plan = [
            row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        ]
    # A search of the chain-position index from the cursor, and no sort of all matches.
    assert any("ix_events_chain_pos" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
