"""Verification: recompute every link and compare the chain with signed checkpoints.

Reports the first bad event by id:

* **edited** — an event's content no longer matches its link;
* **moved** — an event sits at a position other than the one it was linked at
  (reordered events, or an event inserted with a forged link);
* **deleted** — positions are missing; the chain names the missing event, because each
  event's link covers the id of its predecessor;
* **truncated** — the log ends before a signed checkpoint (or the chain head) says it does;
* **relinked** — the event at a checkpoint's position has a link other than the signed one.
"""

from __future__ import annotations

import hmac
import itertools
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from limen.audit._keys import AuditKeys
from limen.audit.chain import GENESIS, head, message_rows
from limen.audit.checkpoints import SignedCheckpoint, list_checkpoints
from limen.store import Database
from limen.store.models import AuditCheckpoint, utcnow

__all__ = ["Problem", "VerifyReport", "verify"]


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    event_id: str | None
    position: int
    detail: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    checked: int
    """Events whose link was recomputed in this run."""
    first_position: int
    last_position: int
    resumed_from: int | None
    checkpoints: int
    """Signed checkpoints compared with the chain."""
    problem: Problem | None = None
    warnings: list[str] = field(default_factory=list)

    def to_document(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_position": self.first_position,
            "last_position": self.last_position,
            "resumed_from": self.resumed_from,
            "checkpoints": self.checkpoints,
            "problem": None
            if self.problem is None
            else {
                "kind": self.problem.kind,
                "event_id": self.problem.event_id,
                "position": self.problem.position,
                "detail": self.problem.detail,
            },
            "warnings": self.warnings,
        }


def verify(
    db: Database,
    keys: AuditKeys,
    *,
    external: Sequence[SignedCheckpoint] = (),
    resume: bool = False,
    workers: int = 1,
    min_per_worker: int | None = None,
) -> VerifyReport:
    """Check the whole chain (or, with ``resume``, everything after the last verified
    checkpoint) against its links and against every signed checkpoint.

    ``workers`` > 1 splits a long chain into ranges checked by that many processes: each
    link is checked against the *stored* link before it, so ranges are independent. A
    range is at least ``min_per_worker`` events (default :data:`MIN_PER_WORKER`).
    """
    public_key = keys.public_key
    warnings: list[str] = []
    with db.unit_of_work(readonly=True) as uow:
        connection = uow.session.connection()
        chain_head = head(connection)
        stored = list_checkpoints(uow.session)
        verified_ids = set(
            uow.session.scalars(
                sa.select(AuditCheckpoint.id).where(AuditCheckpoint.verified_at.is_not(None))
            )
        )
        checkpoints: list[SignedCheckpoint] = []
        # An exported copy of a stored checkpoint counts once; any difference keeps both.
        for checkpoint in dict.fromkeys([*stored, *external]):
            if not checkpoint.is_signed_by(public_key):
                return _failed(
                    Problem(
                        "forged-checkpoint",
                        checkpoint.event_id,
                        checkpoint.position,
                        f"checkpoint {checkpoint.id} is not signed by this installation's key",
                    )
                )
            checkpoints.append(checkpoint)
        by_position: dict[int, SignedCheckpoint] = {}
        for checkpoint in checkpoints:
            by_position.setdefault(checkpoint.position, checkpoint)

        first = connection.execute(sa.text("SELECT min(chain_pos) FROM events")).scalar()
        first_position = int(first) if first is not None else chain_head.position + 1

        # Where to start: the genesis, a checkpoint that anchors a pruned prefix, or (resume)
        # the newest checkpoint a previous run verified.
        anchor_pos, anchor_link, anchor_id = 0, GENESIS, None
        resumed_from = None
        if resume:
            done = [
                c for c in checkpoints if c.id in verified_ids and c.position >= first_position - 1
            ]
            if done:
                best = max(done, key=lambda c: c.position)
                anchor_pos, anchor_link, anchor_id = best.position, best.link_bytes, best.event_id
                resumed_from = best.position
        if anchor_pos == 0 and first_position > 1:
            anchor = by_position.get(first_position - 1)
            if anchor is None:
                row = connection.execute(
                    sa.text("SELECT id, chain_prev_id FROM events WHERE chain_pos = :p"),
                    {"p": first_position},
                ).first()
                return _failed(
                    Problem(
                        "deleted",
                        row[1] if row else None,
                        first_position - 1,
                        f"the log starts at position {first_position} and no signed "
                        "checkpoint covers the events before it",
                    )
                )
            anchor_pos, anchor_link, anchor_id = anchor.position, anchor.link_bytes, anchor.event_id

        last_linked = connection.execute(sa.text("SELECT max(chain_pos) FROM events")).scalar()
        ranges = _ranges(
            connection,
            _Range(anchor_pos, None, anchor_link, anchor_id),
            int(last_linked or 0),
            workers,
            min_per_worker or MIN_PER_WORKER,
        )
        if len(ranges) == 1:
            checked, problem, last = _scan(
                connection, db.backend, keys.chain, ranges[0], by_position
            )
        else:
            checked, problem, last = _scan_in_processes(
                db.url, db.backend, keys.chain, ranges, by_position
            )
        if problem is None:
            ahead = [c for c in checkpoints if c.position > last]
            if ahead:
                nearest = min(ahead, key=lambda c: c.position)
                problem = Problem(
                    "truncated",
                    nearest.event_id,
                    nearest.position,
                    f"the log ends at position {last} but checkpoint {nearest.id} signed "
                    f"position {nearest.position} (event {nearest.event_id})",
                )
            elif chain_head.position > last:
                problem = Problem(
                    "truncated",
                    chain_head.event_id,
                    chain_head.position,
                    f"the log ends at position {last} but the chain head is at "
                    f"{chain_head.position} (event {chain_head.event_id})",
                )
        if problem is None and not checkpoints:
            warnings.append("no signed checkpoint yet: a truncated tail cannot be detected")
    report = VerifyReport(
        ok=problem is None,
        checked=checked,
        first_position=first_position,
        last_position=last,
        resumed_from=resumed_from,
        checkpoints=len(checkpoints),
        problem=problem,
        warnings=warnings,
    )
    if report.ok:
        covered = [c.id for c in stored if c.position <= last and c.id not in verified_ids]
        if covered:
            with db.unit_of_work() as uow:
                uow.session.execute(
                    sa.update(AuditCheckpoint)
                    .where(AuditCheckpoint.id.in_(covered))
                    .values(verified_at=utcnow())
                )
    return report


def _failed(problem: Problem) -> VerifyReport:
    return VerifyReport(
        ok=False,
        checked=0,
        first_position=0,
        last_position=0,
        resumed_from=None,
        checkpoints=0,
        problem=problem,
    )


@dataclass(frozen=True, slots=True)
class _Range:
    after: int
    through: int | None
    previous: bytes
    previous_id: str | None


MIN_PER_WORKER = 250_000
"""Below this many events per process, starting processes costs more than it saves."""


def _ranges(
    connection: sa.Connection, whole: _Range, last: int, workers: int, min_per_worker: int
) -> list[_Range]:
    anchor_pos = whole.after
    count = max(0, last - anchor_pos)
    workers = min(workers, count // min_per_worker)
    if workers <= 1:
        return [whole]
    bounds = [anchor_pos + count * i // workers for i in range(workers)] + [last]
    boundary = sa.text("SELECT chain_pos, id, link FROM events WHERE chain_pos IN :b")
    found = {
        int(position): (event_id, bytes(link))
        for position, event_id, link in connection.execute(
            boundary.bindparams(sa.bindparam("b", expanding=True)), {"b": bounds[1:-1]}
        )
        if link is not None
    }
    if len(found) != len(bounds) - 2:
        # A boundary event is missing: the one-process scan names it exactly.
        return [whole]
    ranges = [_Range(anchor_pos, bounds[1], whole.previous, whole.previous_id)]
    for lower, upper in itertools.pairwise(bounds[1:]):
        event_id, link = found[lower]
        ranges.append(_Range(lower, upper if upper != last else None, link, event_id))
    return ranges


def _scan(
    connection: sa.Connection,
    backend: str,
    key: bytes,
    start: _Range,
    by_position: dict[int, SignedCheckpoint],
) -> tuple[int, Problem | None, int]:
    """Check the chain from ``start``; return (checked, first problem, last position).

    The loop only hashes and compares; ids are looked up when something is wrong.
    """
    digest = hmac.digest
    expected, previous = start.after + 1, start.previous
    rows = message_rows(connection, backend, after=start.after, through=start.through)
    problem: Problem | None = None
    for position, link, tail in rows:
        if position != expected or link is None:
            break
        # Not a secret comparison: the verifier holds the key, nobody times it.
        if digest(key, previous + tail.encode(), "sha256") != link:
            break
        if by_position and position in by_position:
            checkpoint = by_position[position]
            if checkpoint.link_bytes != link:
                rows.close()
                event_id = _event_at(connection, position)[0]
                problem = Problem(
                    "relinked",
                    event_id,
                    position,
                    f"position {position} holds event {event_id}, not what checkpoint "
                    f"{checkpoint.id} signed",
                )
                return expected - start.after - 1, problem, expected - 1
        previous = link
        expected += 1
    else:
        return expected - start.after - 1, None, expected - 1
    rows.close()
    checked = expected - start.after - 1
    event_id, prev_id = _event_at(connection, position)
    if position != expected:
        problem = Problem(
            "deleted",
            prev_id,
            position - 1,
            f"{position - expected} event(s) missing at positions {expected}-"
            f"{position - 1}, before event {event_id}",
        )
    else:
        expected_prev = start.previous_id if position == start.after + 1 else None
        if expected_prev is None and position > start.after + 1:
            expected_prev = _event_at(connection, position - 1)[0]
        if prev_id != expected_prev:
            problem = Problem(
                "moved",
                event_id,
                position,
                f"event {event_id} was not linked at position {position} (reordered or inserted)",
            )
        else:
            problem = Problem(
                "edited",
                event_id,
                position,
                f"event {event_id} does not match its link (edited or forged)",
            )
    return checked, problem, expected - 1


def _event_at(connection: sa.Connection, position: int) -> tuple[str | None, str | None]:
    row = connection.execute(
        sa.text("SELECT id, chain_prev_id FROM events WHERE chain_pos = :p"), {"p": position}
    ).first()
    return (row[0], row[1]) if row else (None, None)


def _scan_range(
    url: str,
    backend: str,
    key: bytes,
    start: _Range,
    by_position: dict[int, SignedCheckpoint],
) -> tuple[int, Problem | None, int]:
    db = Database(url)
    try:
        with db.engine.connect() as connection:
            return _scan(connection, backend, key, start, by_position)
    finally:
        db.engine.dispose()


def _scan_in_processes(
    url: str,
    backend: str,
    key: bytes,
    ranges: list[_Range],
    by_position: dict[int, SignedCheckpoint],
) -> tuple[int, Problem | None, int]:
    # spawn, not fork: the caller may hold threads and pooled connections.
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(ranges)) as pool:
        results = pool.starmap(_scan_range, [(url, backend, key, r, by_position) for r in ranges])
    checked = sum(r[0] for r in results)
    for _, problem, _last in results:
        if problem is not None:
            return checked, problem, problem.position
    return checked, None, results[-1][2]
