"""Only rows Limen wrote are linked: a row inserted behind its back is reported, never
adopted into the chain; and a trail written before seals existed still verifies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from limen.audit import AuditKeys, EventFilter, link_pending, list_events, newest_events, verify
from limen.audit.chain import GENESIS, canonical_sql, compute_link, head
from limen.audit.keycheck import check_key
from limen.keyfile import create_key_file
from limen.store import Database
from limen.store.db import _alembic_config
from tests.audit.conftest import append, linked, tamper

_FOREIGN = (
    "INSERT INTO events (id, occurred_at, actor_kind, actor_name, delegation, action, "
    "outcome, context, seal) VALUES (:id, :at, 'human', 'mallory', '[]', 'vault.read', "
    "'allowed', '{}', :seal)"
)


def _foreign_row(db: Database, event_id: str, seal_value: bytes | None = None) -> None:
    at = datetime.now(UTC)
    tamper(
        db,
        (
            _FOREIGN,
            {
                "id": event_id,
                "at": at.replace(tzinfo=None) if db.backend == "sqlite" else at,
                "seal": seal_value,
            },
        ),
    )


def _chain_pos(db: Database, event_id: str) -> int | None:
    with db.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT chain_pos FROM events WHERE id = :id"), {"id": event_id}
        ).scalar_one()


def test_a_row_inserted_behind_limens_back_is_never_linked_and_verify_names_it(
    db: Database, keys: AuditKeys
) -> None:
    linked(db, keys, 10)
    _foreign_row(db, "forgedrow00000000000000001")
    later = append(db, 5)
    # Before the chainer looked at it, verification already names it.
    problem = verify(db, keys).problem
    assert problem is not None
    assert (problem.kind, problem.event_id) == ("foreign", "forgedrow00000000000000001")

    link_pending(db, keys.chain)
    assert _chain_pos(db, "forgedrow00000000000000001") is None
    assert all(_chain_pos(db, event_id) is not None for event_id in later)
    problem = verify(db, keys).problem
    assert problem is not None
    assert (problem.kind, problem.event_id) == ("foreign", "forgedrow00000000000000001")


def test_a_row_set_aside_is_not_shown_as_an_event(db: Database, keys: AuditKeys) -> None:
    # Readers of the log show what Limen recorded: a planted row is for verify to name.
    linked(db, keys, 3)
    _foreign_row(db, "forgedrow00000000000000003")
    link_pending(db, keys.chain)
    (real,) = append(db, 1)  # not linked yet: the newest of all
    with db.unit_of_work(readonly=True) as uow:
        newest = newest_events(uow.session, EventFilter(), limit=10).events
        oldest = list_events(uow.session, EventFilter(), limit=10).events
    assert newest[-1].id == real
    assert "forgedrow00000000000000003" not in [e.id for e in newest]
    assert [e.id for e in newest] == [e.id for e in oldest]


def test_a_seal_copied_from_another_row_does_not_vouch_for_different_content(
    db: Database, keys: AuditKeys
) -> None:
    append(db, 1)
    with db.engine.connect() as conn:
        stolen = conn.execute(sa.text("SELECT seal FROM events LIMIT 1")).scalar_one()
    _foreign_row(db, "forgedrow00000000000000002", bytes(stolen))
    link_pending(db, keys.chain)
    assert _chain_pos(db, "forgedrow00000000000000002") is None
    problem = verify(db, keys).problem
    assert problem is not None
    assert (problem.kind, problem.event_id) == ("foreign", "forgedrow00000000000000002")


def test_a_process_without_the_key_cannot_write_rows_that_get_linked(
    db: Database, keys: AuditKeys, settings: object
) -> None:
    # A process opened on the database without the installation's key file (a script
    # that imports Limen) writes rows the chainer will not vouch for.
    bare = Database(str(db.engine.url.render_as_string(hide_password=False)))
    try:
        (stray,) = append(bare, 1)
    finally:
        bare.dispose()
    link_pending(db, keys.chain)
    assert _chain_pos(db, stray) is None
    report = verify(db, keys)
    assert report.problem is not None and report.problem.event_id == stray


# --- a trail written before seals existed -------------------------------------------------


@pytest.fixture
def unmigrated(empty_database_url: str) -> Iterator[Database]:
    database = Database(empty_database_url)
    yield database
    database.dispose()


def _write_the_old_way(db: Database, keys: AuditKeys, count: int, *, link: bool) -> None:
    """Events as the version before seals wrote them: no seal, linked over the backend's
    own JSON rendering."""
    at = datetime.now(UTC)
    with db.engine.begin() as conn:
        for n in range(count):
            conn.execute(
                sa.text(
                    "INSERT INTO events (id, occurred_at, actor_kind, actor_name, delegation, "
                    "action, outcome, context) VALUES (:id, :at, 'service', 'old', '[]', "
                    "'test.old', 'allowed', :context)"
                ),
                {
                    "id": f"old{uuid.uuid4().hex[:23]}",
                    "at": at.replace(tzinfo=None) if db.backend == "sqlite" else at,
                    "context": f'{{"n": {n}}}',
                },
            )
        if not link:
            return
        rows = conn.execute(
            sa.text(
                f"SELECT seq, id, {canonical_sql(db.dialect)} FROM events "  # noqa: S608
                "WHERE chain_pos IS NULL ORDER BY seq"
            )
        ).all()
        last = conn.execute(
            sa.text("SELECT position, event_id, link FROM audit_chain_head WHERE id = 1")
        ).first()
        position, prev_id, previous = (
            (int(last[0]), last[1], bytes(last[2])) if last else (0, None, GENESIS)
        )
        for seq, event_id, canon in rows:
            position += 1
            previous = compute_link(keys.chain, previous, position, prev_id, canon)
            conn.execute(
                sa.text(
                    "UPDATE events SET chain_pos = :p, chain_prev_id = :prev, link = :l "
                    "WHERE seq = :s"
                ),
                {"p": position, "prev": prev_id, "l": previous, "s": seq},
            )
            prev_id = event_id
        now = datetime.now(UTC)
        conn.execute(sa.text("DELETE FROM audit_chain_head"))
        conn.execute(
            sa.text(
                "INSERT INTO audit_chain_head (id, position, event_id, link, pruned_through, "
                "updated_at) VALUES (1, :p, :e, :l, 0, :now)"
            ),
            {
                "p": position,
                "e": prev_id,
                "l": previous,
                "now": now.replace(tzinfo=None) if db.backend == "sqlite" else now,
            },
        )


def test_a_trail_from_before_seals_verifies_after_the_upgrade_and_grows(
    unmigrated: Database, tmp_path: Path
) -> None:
    db = unmigrated
    create_key_file(tmp_path / "limen.key")
    keys = AuditKeys.from_key_file(tmp_path / "limen.key")
    with db.engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0005_detect_baselines")
    _write_the_old_way(db, keys, 20, link=True)
    _write_the_old_way(db, keys, 3, link=False)  # written, not yet linked, at the upgrade

    db.migrate()
    keys.attach(db)
    with db.engine.connect() as conn:
        chain_head = head(conn)
    assert (chain_head.position, chain_head.portable_from) == (20, 21)

    check_key(db, keys)  # the newest link is an old-style one, and the key still matches
    append(db, 10)
    assert link_pending(db, keys.chain) == 13  # the 3 old rows are vouched for as well
    report = verify(db, keys)
    assert report.ok, report.problem
    assert report.checked == 33
    check_key(db, keys)  # now against a portable link
