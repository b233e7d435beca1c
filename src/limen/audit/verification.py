"""Verification: recompute every link and compare the chain with signed checkpoints.

Reports the first bad event by id:

* **edited** — an event's content no longer matches its link;
* **moved** — an event sits at a position other than the one it was linked at
  (reordered events, or an event inserted with a forged link);
* **deleted** — positions are missing; the chain names the missing event, because each
  event's link covers the id of its predecessor;
* **truncated** — the log ends before a signed checkpoint (or the chain head) says it does;
* **relinked** — the event at a checkpoint's position has a link other than the signed one;
* **foreign** — a row Limen did not write (no valid seal) sits in the log: the chainer
  never links one, so the chain alone would not show it.
"""

from __future__ import annotations

import itertools
import pickle
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from limen.audit import _rangecheck
from limen.audit._keys import AuditKeys
from limen.audit._rangecheck import END, MISMATCH, SIGNED_OTHER, check_links
from limen.audit.actor import Actor, Authorizer, Resource
from limen.audit.chain import (
    GENESIS,
    Head,
    head,
    link_pending,
    message_chunks,
    message_sql,
    portable_sql,
    vouched,
)
from limen.audit.checkpoints import SignedCheckpoint, create_checkpoint, list_checkpoints
from limen.audit.log import Outcome, record
from limen.audit.retention import PrunePlan, PruneResult, plan_prune, prune
from limen.errors import Unavailable
from limen.store import Database, Dialect
from limen.store.models import AuditCheckpoint, utcnow

__all__ = ["ChainAudit", "Problem", "VerifyReport", "verify"]


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
        whole = _Range(anchor_pos, None, anchor_link, anchor_id)
        ranges = _ranges(
            connection,
            whole,
            int(last_linked or 0),
            workers,
            min_per_worker or _min_per_worker(db.dialect),
        )
        target = db.bare_target()
        if len(ranges) == 1 or target is None:
            checked, problem, last = _scan(
                connection,
                db.dialect,
                keys.chain,
                whole,
                by_position,
                chain_head.portable_from,
            )
        else:
            checked, problem, last = _scan_in_processes(
                connection, db, target, keys.chain, ranges, by_position, chain_head.portable_from
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
        if problem is None:
            problem = _foreign(connection, db.dialect, keys, chain_head)
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


def _foreign(
    connection: sa.Connection, dialect: Dialect, keys: AuditKeys, chain_head: Head
) -> Problem | None:
    """The first row Limen did not write: one the chainer quarantined, or one waiting to
    be linked that it would quarantine."""
    refused = connection.execute(
        sa.text("SELECT id FROM events WHERE quarantined_at IS NOT NULL ORDER BY seq LIMIT 1")
    ).first()
    event_id = refused[0] if refused is not None else None
    if event_id is None:
        waiting = connection.execute(
            sa.text(
                f"SELECT seq, id, {portable_sql(dialect)}, seal FROM events "  # noqa: S608
                "WHERE chain_pos IS NULL AND quarantined_at IS NULL ORDER BY seq"
            )
        ).all()
        _, foreign = vouched(list(waiting), keys.seal, chain_head.unsealed_through)
        event_id = foreign[0][1] if foreign else None
    if event_id is None:
        return None
    return Problem(
        "foreign",
        event_id,
        0,
        f"event {event_id} carries no valid seal: it was written to the database outside "
        "Limen (or by a process without the installation's key file), and was never linked",
    )


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


MIN_PER_WORKER = 100_000
"""Below this many events per process, starting one costs more than it saves
(``benchmarks/audit.py`` measures verification with several workers)."""
MIN_PER_WORKER_IMPORTED_DRIVER = 250_000
"""The same where the checking process imports a driver from site-packages (PostgreSQL's
psycopg), which makes it slower to start."""


def _min_per_worker(dialect: Dialect) -> int:
    return MIN_PER_WORKER if dialect.stdlib_driver else MIN_PER_WORKER_IMPORTED_DRIVER


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
    dialect: Dialect,
    key: bytes,
    start: _Range,
    by_position: dict[int, SignedCheckpoint],
    portable_from: int,
) -> tuple[int, Problem | None, int]:
    """Check the chain from ``start``; return (checked, first problem, last position)."""
    chunks = message_chunks(
        connection,
        dialect,
        after=start.after,
        through=start.through,
        portable_from=portable_from,
    )
    try:
        last, stop = check_links(
            chunks,
            key,
            after=start.after,
            previous=start.previous,
            signed=_signed(by_position, start),
        )
    finally:
        chunks.close()
    return _diagnose(connection, start, by_position, last, stop)


def _signed(by_position: dict[int, SignedCheckpoint], start: _Range) -> dict[int, bytes]:
    return {
        position: checkpoint.link_bytes
        for position, checkpoint in by_position.items()
        if position > start.after and (start.through is None or position <= start.through)
    }


def _diagnose(
    connection: sa.Connection,
    start: _Range,
    by_position: dict[int, SignedCheckpoint],
    last: int,
    stop: int,
) -> tuple[int, Problem | None, int]:
    """Name what stopped a range's check after position ``last``: the hot loop only
    hashes and compares, so ids are looked up here, when something is wrong."""
    checked = last - start.after
    if stop == END:
        return checked, None, last
    expected = last + 1
    if stop == SIGNED_OTHER:
        event_id = _event_at(connection, expected)[0]
        checkpoint = by_position[expected]
        problem = Problem(
            "relinked",
            event_id,
            expected,
            f"position {expected} holds event {event_id}, not what checkpoint "
            f"{checkpoint.id} signed",
        )
        return checked, problem, last
    row = connection.execute(
        sa.text(
            "SELECT chain_pos, id, chain_prev_id FROM events WHERE chain_pos > :p "
            "ORDER BY chain_pos LIMIT 1"
        ),
        {"p": last},
    ).first()
    if row is None:
        return checked, None, last
    position, event_id, prev_id = int(row[0]), row[1], row[2]
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
    return checked, problem, last


def _event_at(connection: sa.Connection, position: int) -> tuple[str | None, str | None]:
    row = connection.execute(
        sa.text("SELECT id, chain_prev_id FROM events WHERE chain_pos = :p"), {"p": position}
    ).first()
    return (row[0], row[1]) if row else (None, None)


_SCRIPT = str(Path(_rangecheck.__file__).resolve())


def _start_range(
    db: Database,
    target: str,
    key: bytes,
    start: _Range,
    signed: dict[int, bytes],
    portable_from: int,
) -> subprocess.Popen[bytes]:
    job = {
        "driver": db.dialect.driver_module,
        "database": target,
        "sql": message_sql(
            db.dialect, bounded=start.through is not None, portable_from=portable_from
        ),
        "params": (start.after,) if start.through is None else (start.after, start.through),
        "key": key,
        "after": start.after,
        "previous": start.previous,
        "signed": signed,
    }
    # -P: the script's own directory (this package) is not put on the module path. A
    # driver from the standard library needs no site-packages: -S skips its .pth imports.
    flags = ["-I", "-S"] if db.dialect.stdlib_driver else ["-P"]
    process = subprocess.Popen(
        [sys.executable, *flags, _SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdin, process.stdin = process.stdin, None  # sent here, not by communicate()
    assert stdin is not None
    try:
        with stdin:
            stdin.write(pickle.dumps(job))
    except BrokenPipeError:
        pass  # it died at start; _range_result reports why
    return process


def _range_result(process: subprocess.Popen[bytes]) -> tuple[int, int]:
    out, err = process.communicate()
    try:
        status, value = pickle.loads(out)  # noqa: S301 - our own child's answer
    except Exception:
        last = (err.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"a verification process failed: {last}") from None
    if status != "ok":
        raise Unavailable(f"a verification process failed: {value}")
    return value


def _scan_in_processes(
    connection: sa.Connection,
    db: Database,
    target: str,
    key: bytes,
    ranges: list[_Range],
    by_position: dict[int, SignedCheckpoint],
    portable_from: int,
) -> tuple[int, Problem | None, int]:
    """This process checks the first range while one process per other range checks
    that one; the first range (in chain order) that stopped is diagnosed here, and the
    processes checking later ranges are stopped: what they would find comes after it."""
    processes = [
        _start_range(db, target, key, r, _signed(by_position, r), portable_from) for r in ranges[1:]
    ]
    try:
        chunks = message_chunks(
            connection,
            db.dialect,
            after=ranges[0].after,
            through=ranges[0].through,
            portable_from=portable_from,
        )
        try:
            first = check_links(
                chunks,
                key,
                after=ranges[0].after,
                previous=ranges[0].previous,
                signed=_signed(by_position, ranges[0]),
            )
        finally:
            chunks.close()
        checked = 0
        last = ranges[0].after
        for index, start in enumerate(ranges):
            last, stop = first if index == 0 else _range_result(processes[index - 1])
            if start.through is not None and stop == END and last != start.through:
                stop = MISMATCH  # the range ended early: name what is missing
            if stop != END:
                more, problem, last = _diagnose(connection, start, by_position, last, stop)
                return checked + more, problem, last
            checked += last - start.after
        return checked, None, last
    finally:
        for process in processes:
            if process.returncode is None:  # not collected: stop it, close its pipes
                process.kill()
                process.communicate()


class ChainAudit:
    """Verifying the chain and reading its signed checkpoints for an actor (the API's door;
    ``limen audit verify`` on the server host calls :func:`verify` itself)."""

    def __init__(self, db: Database, authorizer: Authorizer, keys: AuditKeys | None) -> None:
        self._db = db
        self._guard = authorizer
        self._keys = keys

    def verify(
        self, actor: Actor, *, external: Sequence[SignedCheckpoint] = (), resume: bool = False
    ) -> VerifyReport:
        """:func:`verify` in this process, recorded as an ``audit.verify`` event (outcome
        ``failure`` when the trail is bad), as the console's *Verify now* is."""
        self._guard.authorize(actor, "audit.verify", Resource("audit_chain"))
        if self._keys is None:
            raise Unavailable("this server cannot read its key file, which verifying needs")
        report = verify(self._db, self._keys, external=external, resume=resume)
        problem = report.problem
        summary = (
            f"{report.checked} events verified; {report.checkpoints} signed checkpoints agree"
            if problem is None
            else f"{problem.kind} event {problem.event_id} at {problem.position}: {problem.detail}"
        )
        with self._db.unit_of_work() as uow:
            record(
                uow.session,
                actor,
                "audit.verify",
                resource_type="audit_chain",
                outcome=Outcome.SUCCESS if report.ok else Outcome.FAILURE,
                reason=summary[:1000],
                context={"checked": report.checked, "resumed_from": report.resumed_from},
            )
        return report

    def sign(self, actor: Actor) -> SignedCheckpoint | None:
        """Sign the chain head now (``limen audit checkpoint``), as the server's own
        checkpoint task does; ``None`` while nothing is linked. An auditor may: a signed
        checkpoint only adds what later verification checks against."""
        self._guard.authorize(actor, "audit.verify", Resource("audit_checkpoint"))
        keys = self._need_keys("signing a checkpoint")
        link_pending(self._db, keys.chain)
        return create_checkpoint(self._db, keys, actor=actor)

    def plan_prune(self, actor: Actor, *, before: datetime) -> PrunePlan:
        """What :meth:`prune` would delete now, changing nothing (to confirm first)."""
        self._guard.authorize(actor, "audit.prune", Resource("audit_chain"))
        return plan_prune(self._db, self._need_keys("pruning"), before=before)

    def prune(
        self, actor: Actor, *, before: datetime, reason: str | None, through: int | None
    ) -> PruneResult:
        """Delete events older than ``before``, only as far as a signed checkpoint covers
        them and never past ``through`` (the position of the plan that was confirmed)."""
        self._guard.authorize(actor, "audit.prune", Resource("audit_chain"))
        keys = self._need_keys("pruning")
        result = prune(self._db, keys, actor, before=before, reason=reason, through=through)
        link_pending(self._db, keys.chain)
        return result

    def _need_keys(self, what: str) -> AuditKeys:
        if self._keys is None:
            raise Unavailable(f"this server cannot read its key file, which {what} needs")
        return self._keys

    def checkpoints(self, actor: Actor) -> list[SignedCheckpoint]:
        """Every signed checkpoint, oldest first, to keep elsewhere (``--export``)."""
        self._guard.authorize(actor, "event.read", Resource("audit_checkpoint"))
        with self._db.unit_of_work(readonly=True) as uow:
            return list_checkpoints(uow.session)
