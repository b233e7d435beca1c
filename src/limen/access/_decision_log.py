"""Group commit for decision events: many decisions, one transaction, nobody waits long.

Every decision is an event, recorded before its answer leaves (a PEP acting on a
decision the log does not have would make the trail lie by omission); the commit is
shared with other requests' events (see :mod:`limen.audit.durable`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from limen.audit import Actor, Outcome, record
from limen.audit.durable import EventWriter

if TYPE_CHECKING:
    from limen.access.authzen.evaluation import Evaluation
    from limen.access.pdp import Decision

Entry = tuple[Actor, "Evaluation", "Decision"]


class DecisionLog:
    """Decision events through the process's group-committing event writer, so that
    decisions share their commits with secret reads and other requests' decisions."""

    def __init__(self, writer: EventWriter) -> None:
        self._writer = writer

    async def written(self, entries: Sequence[Entry]) -> None:
        """Queue ``entries`` and wait, without blocking the event loop, until committed."""
        await self._writer.written([_writes(entries)])


def _writes(entries: Sequence[Entry]) -> Callable[[Session], None]:
    def write(session: Session) -> None:
        for actor, evaluation, decision in entries:
            record_decision(session, actor, evaluation, decision)

    return write


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
