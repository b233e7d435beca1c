"""Group commit for decision events: many decisions, one transaction, nobody waits long.

Every decision is an event, recorded before its answer leaves (a PEP acting on a
decision the log does not have would make the trail lie by omission). One transaction
per decision, though, caps a SQLite node at a few hundred decisions a second, since
writers queue on one lock. So callers hand their events to one writer thread, which
commits whatever has queued up together and then releases every caller in the batch.
A batch fails or succeeds as a whole, and each caller learns which.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from limen.audit import Actor, Outcome, record
from limen.store import Database

if TYPE_CHECKING:
    from limen.access.authzen.evaluation import Evaluation
    from limen.access.pdp import Decision

Entry = tuple[Actor, "Evaluation", "Decision"]
Done = Callable[[BaseException | None], None]

_MAX_BATCH = 2000


class DecisionLog:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue: queue.SimpleQueue[tuple[Sequence[Entry], Done] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, entries: Sequence[Entry], done: Done) -> None:
        """Queue ``entries``; ``done(error)`` is called from the writer thread after commit."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="limen-decision-log", daemon=True
                    )
                    self._thread.start()
        self._queue.put((entries, done))

    def write(self, entries: Sequence[Entry]) -> None:
        """Queue ``entries`` and wait until they are committed (raises if they were not)."""
        finished = threading.Event()
        outcome: list[BaseException | None] = []

        def done(error: BaseException | None) -> None:
            outcome.append(error)
            finished.set()

        self.submit(entries, done)
        finished.wait()
        if outcome and outcome[0] is not None:
            raise outcome[0]

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            size = len(first[0])
            stop = False
            while size < _MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
                size += len(item[0])
            error: BaseException | None = None
            try:
                with self._db.unit_of_work() as uow:
                    for entries, _ in batch:
                        for actor, evaluation, decision in entries:
                            record_decision(uow.session, actor, evaluation, decision)
            except Exception as exc:  # every caller in the batch learns it failed
                error = exc
            for _, done in batch:
                done(error)
            if stop:
                return


def record_decision(
    session: Session, actor: Actor, evaluation: Evaluation, decision: Decision
) -> None:
    """One ``access.evaluate`` event: who asked, about whom, what, and the answer."""
    record(
        session,
        actor,
        "access.evaluate",
        resource_type=evaluation.resource_type[:50],
        resource_id=evaluation.resource_id[:200],
        outcome=Outcome.SUCCESS if decision.allowed else Outcome.DENIED,
        reason=decision.reason,
        context={
            "subject": {"type": evaluation.subject_type, "id": evaluation.subject_id},
            "action": evaluation.action,
            "policies": list(decision.policies),
        },
    )
