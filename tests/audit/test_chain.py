"""Tamper evidence: each kind of tampering is reported by the id of the first bad event."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import threading
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from limen.audit import (
    AuditKeys,
    CheckpointRequired,
    create_checkpoint,
    export_checkpoints,
    link_pending,
    list_checkpoints,
    load_checkpoints,
    prune,
    verify,
)
from limen.audit.actor import Actor
from limen.audit.chain import RECORDED_FIELDS, compute_link
from limen.store import Database
from limen.store.models import Event, utcnow
from tests.audit.conftest import append, ids_by_position, linked, tamper


def test_an_untouched_chain_verifies(db: Database, keys: AuditKeys) -> None:
    ids = linked(db, keys, 40)
    report = verify(db, keys)
    assert report.ok, report.problem
    assert report.checked == len(ids) and report.last_position == max(ids)
    assert report.warnings  # no checkpoint yet: truncation would go unnoticed


def _canonical(row: sa.Row) -> str:
    """An event's canonical form as docs/audit.md spells it: each recorded field in order
    as ``<length>:<text>``, ``-`` for NULL, times as UTC ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    texts = []
    for name, value in zip(RECORDED_FIELDS, row, strict=True):
        if value is not None and name == "occurred_at":
            value = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        texts.append("-" if value is None else f"{len(value)}:{value}")
    return "".join(texts)


_RECORDED = sa.select(
    *(
        sa.cast(getattr(Event, name), sa.Text)
        if name in ("delegation", "context")
        else getattr(Event, name)
        for name in RECORDED_FIELDS
    )
)


def test_links_follow_the_documented_formula(db: Database, keys: AuditKeys) -> None:
    """An auditor with the chain key can recompute every link from docs/audit.md alone:
    link(n) = HMAC-SHA256(key, link(n-1) ‖ n ‖ "|" ‖ id of event n-1 ‖ "|" ‖ canonical n)."""
    linked(db, keys, 30)
    with db.unit_of_work(readonly=True) as uow:
        rows = uow.session.execute(
            _RECORDED.add_columns(Event.chain_pos, Event.link)
            .where(Event.chain_pos.is_not(None))
            .order_by(Event.chain_pos)
        ).all()
    previous, previous_id = bytes(32), ""
    for row in rows:
        *recorded, position, link = row
        message = previous + f"{position}|{previous_id}|{_canonical(recorded)}".encode()
        assert hmac.new(keys.chain, message, hashlib.sha256).digest() == link, position
        previous, previous_id = link, recorded[0]
    assert len(rows) >= 30


def test_an_edited_event_is_reported_by_id(db: Database, keys: AuditKeys) -> None:
    ids = linked(db, keys, 20)
    tamper(db, ("UPDATE events SET outcome = 'denied' WHERE chain_pos = 9", {}))
    problem = verify(db, keys).problem
    assert problem is not None
    assert (problem.kind, problem.event_id, problem.position) == ("edited", ids[9], 9)


def test_a_deleted_event_is_reported_by_its_own_id(db: Database, keys: AuditKeys) -> None:
    ids = linked(db, keys, 20)
    tamper(db, ("DELETE FROM events WHERE chain_pos = 12", {}))
    problem = verify(db, keys).problem
    assert problem is not None
    assert (problem.kind, problem.event_id, problem.position) == ("deleted", ids[12], 12)


def test_reordered_events_are_reported(db: Database, keys: AuditKeys) -> None:
    ids = linked(db, keys, 20)
    tamper(
        db,
        ("UPDATE events SET chain_pos = -1 WHERE chain_pos = 7", {}),
        ("UPDATE events SET chain_pos = 7 WHERE chain_pos = 8", {}),
        ("UPDATE events SET chain_pos = 8 WHERE chain_pos = -1", {}),
    )
    problem = verify(db, keys).problem
    assert problem is not None
    assert (problem.kind, problem.event_id, problem.position) == ("moved", ids[8], 7)


def test_an_inserted_event_is_reported_by_id(db: Database, keys: AuditKeys) -> None:
    ids = linked(db, keys, 20)
    tamper(
        db,
        ("UPDATE events SET chain_pos = chain_pos + 1000000 WHERE chain_pos >= 5", {}),
        ("UPDATE events SET chain_pos = chain_pos - 999999 WHERE chain_pos > 1000000", {}),
    )
    forged = append(db, 1, action="identity.create")[0]
    tamper(
        db,
        (
            "UPDATE events SET chain_pos = 5, chain_prev_id = :prev, link = :link WHERE id = :id",
            {"prev": ids[4], "link": bytes(32), "id": forged},
        ),
    )
    problem = verify(db, keys).problem
    assert problem is not None
    assert (problem.event_id, problem.position) == (forged, 5)


def test_a_truncated_tail_is_caught_against_an_exported_checkpoint(
    db: Database, keys: AuditKeys, tmp_path: Path
) -> None:
    ids = linked(db, keys, 30)
    last = max(ids)
    checkpoint = create_checkpoint(db, keys)
    assert checkpoint is not None and checkpoint.event_id == ids[last]
    export_checkpoints([checkpoint], tmp_path / "checkpoints")
    # The attacker removes the last events and every trace in the database.
    tamper(
        db,
        ("DELETE FROM events WHERE chain_pos > 25", {}),
        ("DELETE FROM audit_checkpoints", {}),
        (
            "UPDATE audit_chain_head SET position = 25, event_id = :id, link = "
            "(SELECT link FROM events WHERE chain_pos = 25) WHERE id = 1",
            {"id": ids[25]},
        ),
    )
    assert verify(db, keys).ok  # the chain alone cannot know what is missing at its end
    external = load_checkpoints(tmp_path / "checkpoints")
    problem = verify(db, keys, external=external).problem
    assert problem is not None
    assert (problem.kind, problem.event_id, problem.position) == ("truncated", ids[last], last)


def test_a_truncated_tail_is_caught_against_the_chain_head(db: Database, keys: AuditKeys) -> None:
    ids = linked(db, keys, 10)
    tamper(db, ("DELETE FROM events WHERE chain_pos > 8", {}))
    problem = verify(db, keys).problem
    assert problem is not None
    assert (problem.kind, problem.event_id) == ("truncated", ids[max(ids)])


def test_a_forged_checkpoint_file_is_refused(db: Database, keys: AuditKeys, tmp_path: Path) -> None:
    linked(db, keys, 5)
    checkpoint = create_checkpoint(db, keys)
    assert checkpoint is not None
    other = AuditKeys.from_root(bytes(range(32)))
    forged = dataclasses.replace(checkpoint, public_key=other.public_key)
    report = verify(db, keys, external=[forged])
    assert report.problem is not None and report.problem.kind == "forged-checkpoint"


def test_prune_needs_a_checkpoint_and_verification_passes_after_it(
    db: Database, keys: AuditKeys
) -> None:
    linked(db, keys, 20)
    later = utcnow() + timedelta(seconds=1)
    with pytest.raises(CheckpointRequired):
        prune(db, keys, Actor.operator(), before=later)
    checkpoint = create_checkpoint(db, keys)
    assert checkpoint is not None
    append(db, 5)
    result = prune(db, keys, Actor.operator(), before=later)
    assert result.through_position == checkpoint.position
    assert result.deleted == checkpoint.position
    link_pending(db, keys.chain)
    report = verify(db, keys)
    assert report.ok, report.problem
    assert report.first_position == checkpoint.position + 1
    # The pruned prefix cannot be removed from the anchor without notice either.
    tamper(db, ("DELETE FROM audit_checkpoints", {}))
    problem = verify(db, keys).problem
    assert problem is not None and problem.kind == "deleted"


def test_verification_resumes_from_the_last_verified_checkpoint(
    db: Database, keys: AuditKeys
) -> None:
    linked(db, keys, 50)
    checkpoint = create_checkpoint(db, keys)
    assert checkpoint is not None
    assert verify(db, keys).ok
    append(db, 7)
    link_pending(db, keys.chain)
    report = verify(db, keys, resume=True)
    # Seven appended, and the checkpoint's own audit.checkpoint event.
    assert report.ok and report.resumed_from == checkpoint.position and report.checked == 8
    with db.unit_of_work(readonly=True) as uow:
        assert all(c.position <= report.last_position for c in list_checkpoints(uow.session))


def test_concurrent_writers_and_chainers_keep_one_gapless_chain(
    db: Database, keys: AuditKeys
) -> None:
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(15):
                append(db, 20)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def chainer(stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                link_pending(db, keys.chain, batch=50)
        except BaseException as exc:
            errors.append(exc)

    stop = threading.Event()
    chainers = [threading.Thread(target=chainer, args=(stop,)) for _ in range(2)]
    writers = [threading.Thread(target=writer) for _ in range(3)]
    for thread in chainers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in chainers:
        thread.join()
    assert not errors, errors
    link_pending(db, keys.chain)
    positions = ids_by_position(db)
    assert sorted(positions) == list(range(1, len(positions) + 1))
    assert len(positions) >= 900
    assert verify(db, keys).ok


def test_verification_split_across_processes_finds_the_same_first_bad_event(
    db: Database, keys: AuditKeys
) -> None:
    ids = linked(db, keys, 40)
    # One tamper in each range: the lower one is reported.
    tamper(
        db,
        ("UPDATE events SET reason = 'x' WHERE chain_pos = 35", {}),
        ("DELETE FROM events WHERE chain_pos = 12", {}),
    )
    report = verify(db, keys, workers=2, min_per_worker=10)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.event_id) == ("deleted", ids[12])


def test_a_chain_split_across_processes_verifies_every_event(db: Database, keys: AuditKeys) -> None:
    ids = linked(db, keys, 60)
    report = verify(db, keys, workers=3, min_per_worker=10)
    assert report.ok, report.problem
    assert (report.checked, report.last_position) == (len(ids), max(ids))


@pytest.mark.parametrize("workers", [1, 3])
def test_a_chain_rewritten_with_the_key_is_caught_by_an_exported_checkpoint(
    db: Database, keys: AuditKeys, tmp_path: Path, workers: int
) -> None:
    ids = linked(db, keys, 40)
    checkpoint = create_checkpoint(db, keys)
    assert checkpoint is not None
    export_checkpoints([checkpoint], tmp_path)
    # Someone who also stole the key edits event 10 and recomputes every later link.
    tamper(db, ("UPDATE events SET reason = 'rewritten' WHERE chain_pos = 10", {}))
    with db.unit_of_work(readonly=True) as uow:
        rows = uow.session.execute(
            _RECORDED.add_columns(Event.chain_pos, Event.chain_prev_id)
            .where(Event.chain_pos >= 10)
            .order_by(Event.chain_pos)
        ).all()
    with db.engine.begin() as conn:
        previous = conn.execute(sa.text("SELECT link FROM events WHERE chain_pos = 9")).scalar_one()
        for row in rows:
            *recorded, position, prev_id = row
            previous = compute_link(
                keys.chain, bytes(previous), position, prev_id, _canonical(recorded)
            )
            conn.execute(
                sa.text("UPDATE events SET link = :link WHERE chain_pos = :pos"),
                {"link": previous, "pos": position},
            )
        conn.execute(sa.text("DELETE FROM audit_checkpoints"))
        conn.execute(sa.text("UPDATE audit_chain_head SET link = :link"), {"link": previous})
    assert verify(db, keys, workers=workers, min_per_worker=10).ok  # the links agree
    external = load_checkpoints(tmp_path)
    problem = verify(db, keys, external=external, workers=workers, min_per_worker=10).problem
    assert problem is not None
    assert (problem.kind, problem.event_id, problem.position) == (
        "relinked",
        ids[checkpoint.position],
        checkpoint.position,
    )
