"""Alerts as people handle them: list, show, acknowledge, mark a false positive, resolve.

Every change asks the guard (``alert.read``, ``alert.update``) and records an event
(``alert.acknowledge``, ``alert.false_positive``, ``alert.resolve``) in the same unit of
work. A false-positive mark also sets ``teach_pending``: the node that scores the identity
learns the alert's events as normal on its next pass (``limen.detect.live``), so the same
behaviour stops alerting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa

from limen.audit import Actor, Authorizer, Resource, record
from limen.detect.errors import AlertNotFound
from limen.errors import InvalidInput
from limen.store import Database
from limen.store.models import DetectAlert

__all__ = ["SEVERITIES", "STATUSES", "Alerts", "alert_document"]

STATUSES: Final = ("open", "acknowledged", "false_positive", "resolved")
SEVERITIES: Final = ("critical", "high", "medium", "low")
_ACTIONS: Final = {
    "acknowledged": "alert.acknowledge",
    "false_positive": "alert.false_positive",
    "resolved": "alert.resolve",
}


def alert_document(row: DetectAlert) -> dict[str, Any]:
    return {
        "id": row.id,
        "identity": {"id": row.identity_id, "name": row.identity_name, "kind": row.kind},
        "score": round(row.score, 4),
        "severity": row.severity,
        "status": row.status,
        "reasons": list(row.reasons or []),
        "events": list(row.event_ids or []),
        "from": row.first_at.isoformat(),
        "to": row.last_at.isoformat(),
        "raised_at": row.raised_at.isoformat(),
        "closed": row.closed,
        "handled_by": row.handled_by,
        "note": row.note,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


class Alerts:
    """The alerts the live detector raised, for an actor the guard lets through."""

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def list(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        identity: str | None = None,
        severity: str | None = None,
        limit: int = 100,
    ) -> Sequence[dict[str, Any]]:
        """Newest first; ``identity`` is an id or a name."""
        self._guard.authorize(actor, "alert.read", Resource("alert"))
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        if severity is not None and severity not in SEVERITIES:
            raise InvalidInput(f"severity must be one of {', '.join(SEVERITIES)}")
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")
        query = sa.select(DetectAlert).order_by(
            DetectAlert.created_at.desc(), DetectAlert.id.desc()
        )
        if status:
            query = query.where(DetectAlert.status == status)
        if severity:
            query = query.where(DetectAlert.severity == severity)
        if identity:
            query = query.where(
                sa.or_(
                    DetectAlert.identity_id == identity,
                    DetectAlert.identity_name == identity,
                    DetectAlert.subject == identity,
                )
            )
        with self._db.unit_of_work(readonly=True) as uow:
            return [alert_document(row) for row in uow.session.scalars(query.limit(limit))]

    def open_by_severity(self, actor: Actor) -> dict[str, int]:
        """How many alerts are still ``open``, per severity (every severity listed)."""
        self._guard.authorize(actor, "alert.read", Resource("alert"))
        query = (
            sa.select(DetectAlert.severity, sa.func.count())
            .where(DetectAlert.status == "open")
            .group_by(DetectAlert.severity)
        )
        counts = dict.fromkeys(SEVERITIES, 0)
        with self._db.unit_of_work(readonly=True) as uow:
            for severity, count in uow.session.execute(query):
                counts[severity] = counts.get(severity, 0) + count
        return counts

    def get(self, actor: Actor, alert_id: str) -> dict[str, Any]:
        self._guard.authorize(actor, "alert.read", Resource("alert", alert_id))
        with self._db.unit_of_work(readonly=True) as uow:
            return alert_document(_row(uow.session, alert_id))

    def acknowledge(
        self, actor: Actor, alert_id: str, *, note: str | None = None
    ) -> dict[str, Any]:
        """Someone is on it: the alert is no longer ``open``."""
        return self._set(actor, alert_id, "acknowledged", note)

    def mark_false_positive(
        self, actor: Actor, alert_id: str, *, note: str | None = None
    ) -> dict[str, Any]:
        """Not an attack: the detector learns its events as normal for the identity."""
        return self._set(actor, alert_id, "false_positive", note)

    def resolve(self, actor: Actor, alert_id: str, *, note: str | None = None) -> dict[str, Any]:
        """Handled (contained, or explained)."""
        return self._set(actor, alert_id, "resolved", note)

    def _set(self, actor: Actor, alert_id: str, status: str, note: str | None) -> dict[str, Any]:
        if note is not None and len(note) > 500:
            raise InvalidInput("note: at most 500 characters")
        self._guard.authorize(actor, "alert.update", Resource("alert", alert_id))
        with self._db.unit_of_work() as uow:
            row = _row(uow.session, alert_id)
            if row.status == "false_positive" and status != "false_positive":
                raise InvalidInput(
                    f"alert {alert_id} was marked a false positive; the detector learned it"
                )
            previous = row.status
            row.status = status
            row.handled_by = actor.name
            if note is not None:
                row.note = note
            if status == "false_positive" and previous != "false_positive":
                row.teach_pending = True
            if row.identity_id is not None:
                uow.flush()
                _settle_risk(uow, row.identity_id)
            record(
                uow.session,
                actor,
                _ACTIONS[status],
                resource_type="alert",
                resource_id=row.id,
                resource_name=row.identity_name,
                context={"identity_id": row.identity_id, "previous": previous, "note": note},
            )
            uow.flush()
            return alert_document(row)


def _settle_risk(uow: Any, identity_id: str) -> None:
    """The identity's risk: the highest score of its alerts still open or acknowledged."""
    from limen.detect.live import set_risk

    highest = uow.session.scalar(
        sa.select(sa.func.max(DetectAlert.score)).where(
            DetectAlert.identity_id == identity_id,
            DetectAlert.status.in_(("open", "acknowledged")),
        )
    )
    set_risk(uow, identity_id, round((highest or 0.0) * 100))


def _row(session: Any, alert_id: str) -> DetectAlert:
    row = session.get(DetectAlert, alert_id) if alert_id else None
    if row is None:
        raise AlertNotFound(f"no alert {alert_id!r}")
    return row
