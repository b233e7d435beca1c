"""The newest events that match a filter: the same answer whether the matches are among
the newest events or far back in the log (where the filters' indexes find them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from limen.audit import Actor, AuditKeys, EventFilter, link_pending, newest_events, record
from limen.audit import log as audit_log
from limen.keyfile import create_key_file
from limen.store import Database
from limen.store.db import _alembic_config


def _acts(db: Database, actor: Actor, count: int, action: str) -> None:
    with db.unit_of_work() as uow:
        for n in range(count):
            record(uow.session, actor, action, resource_id=str(n))


@pytest.mark.parametrize("window", [5, 10_000])
def test_newest_events_of_a_quiet_and_a_busy_identity(
    db: Database, keys: AuditKeys, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    monkeypatch.setattr(audit_log, "_RECENT_WINDOW", window)
    keys.attach(db)
    quiet = Actor(kind="agent", name="quiet", identity_id="q" * 26)
    helper = Actor(
        kind="agent",
        name="helper",
        identity_id="h" * 26,
        delegation=({"id": "q" * 26, "kind": "agent", "name": "quiet"},),
    )
    busy = Actor(kind="agent", name="busy", identity_id="b" * 26)
    _acts(db, quiet, 2, "quiet.own")
    _acts(db, helper, 1, "quiet.behalf")
    _acts(db, busy, 30, "busy.own")
    link_pending(db, keys.chain)
    _acts(db, busy, 2, "busy.pending")  # not linked yet: the newest of all

    with db.unit_of_work(readonly=True) as uow:
        mine = newest_events(uow.session, EventFilter(identity="q" * 26), limit=10).events
        theirs = newest_events(uow.session, EventFilter(actor_id="b" * 26), limit=5).events
        everything = newest_events(uow.session, EventFilter(), limit=4).events
    assert [e.action for e in mine] == ["quiet.own", "quiet.own", "quiet.behalf"]
    assert [e.action for e in theirs] == ["busy.own"] * 3 + ["busy.pending"] * 2
    assert [e.resource_id for e in theirs[:3]] == ["27", "28", "29"]
    assert [e.action for e in everything] == ["busy.own"] * 2 + ["busy.pending"] * 2


def test_what_was_done_on_an_identitys_behalf_before_the_upgrade_is_found_after_it(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Far back in the log, where the delegation chain's index answers, not the newest window.
    monkeypatch.setattr(audit_log, "_RECENT_WINDOW", 2)
    db = Database(empty_database_url)
    try:
        with db.engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "0013_ssf_stream_signing_alg")
        create_key_file(tmp_path / "limen.key")
        keys = AuditKeys.from_key_file(tmp_path / "limen.key")
        keys.attach(db)
        owner = {"id": "o" * 26, "kind": "human", "name": "owner"}
        deputy = {"id": "d" * 26, "kind": "agent", "name": "deputy"}
        helper = Actor(
            kind="agent", name="helper", identity_id="h" * 26, delegation=(deputy, owner)
        )
        _acts(db, helper, 2, "before.upgrade")
        _acts(db, Actor(kind="agent", name="busy", identity_id="b" * 26), 5, "busy")

        db.migrate()
        _acts(db, helper, 1, "after.upgrade")
        _acts(db, Actor(kind="agent", name="busy", identity_id="b" * 26), 5, "busy")
        link_pending(db, keys.chain)
        with db.unit_of_work(readonly=True) as uow:
            for who in ("o" * 26, "d" * 26):
                found = newest_events(uow.session, EventFilter(identity=who), limit=10).events
                assert [e.action for e in found] == ["before.upgrade"] * 2 + ["after.upgrade"]
            nobody = newest_events(uow.session, EventFilter(identity="h" * 25 + "x"), limit=10)
            assert nobody.events == []
    finally:
        db.dispose()


@pytest.mark.parametrize("few", [2, 1000])
def test_the_newest_of_many_matches_are_the_last_of_the_whole_list(
    db: Database, keys: AuditKeys, monkeypatch: pytest.MonkeyPatch, few: int
) -> None:
    # A person whose agent acts for them far more often than they act themselves, with
    # events done to them in between: each filter's newest are the last of all it matches.
    # (``few``: the whole list reads an identity's events by their seqs, or tests each.)
    monkeypatch.setattr(audit_log, "_FEW", few)
    keys.attach(db)
    person = {"id": "p" * 26, "kind": "human", "name": "person"}
    agent = Actor(kind="agent", name="agent", identity_id="a" * 26, delegation=(person,))
    themselves = Actor(kind="human", name="person", identity_id="p" * 26)
    other = Actor(kind="agent", name="other", identity_id="o" * 26)
    for round_ in range(6):
        _acts(db, agent, 20, f"behalf.{round_}")
        _acts(db, themselves, 3, "own.read")
        _acts(db, other, 10, "other.read")
        with db.unit_of_work() as uow:
            record(
                uow.session,
                other,
                "identity.update",
                resource_type="identity",
                resource_id="p" * 26,
            )
        if round_ % 2:
            link_pending(db, keys.chain)
    _acts(db, agent, 2, "behalf.pending")  # not linked yet

    filters = [
        EventFilter(identity="p" * 26),
        EventFilter(identity="p" * 26, action="own.read"),
        EventFilter(actor_id="a" * 26),
        EventFilter(action="other.read"),
        EventFilter(resource_type="identity", resource_id="p" * 26),
        EventFilter(action="behalf.*"),
        EventFilter(kind="human"),
    ]
    with db.unit_of_work(readonly=True) as uow:
        for wanted in filters:
            everything = audit_log.list_events(uow.session, wanted, limit=1000).events
            for limit in (1, 7, 25, 200):
                newest = newest_events(uow.session, wanted, limit=limit).events
                assert [e.id for e in newest] == [e.id for e in everything[-limit:]], wanted


def test_an_event_linked_between_the_pages_two_reads_is_shown_once(
    db: Database, keys: AuditKeys
) -> None:
    # The newest page reads the unlinked events, then the linked ones. Here the chainer
    # links the newest between those two reads, as a busy server's chainer may.
    keys.attach(db)
    worker = Actor(kind="agent", name="worker", identity_id="w" * 26)
    _acts(db, worker, 3, "linked.early")
    link_pending(db, keys.chain)
    _acts(db, worker, 2, "linked.meanwhile")
    reads: list[str] = []

    def link_after_the_first_read(conn, cursor, statement, parameters, context, many) -> None:
        if "chain_pos IS NULL" in statement and not reads:
            reads.append(statement)
            link_pending(db, keys.chain)

    sa.event.listen(db.engine, "after_cursor_execute", link_after_the_first_read)
    try:
        with db.unit_of_work(readonly=True) as uow:
            newest = newest_events(uow.session, EventFilter(actor_id="w" * 26), limit=4).events
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", link_after_the_first_read)
    assert reads, "the page read the unlinked events first"
    assert [e.resource_id for e in newest] == ["1", "2", "0", "1"]
