"""The platform-wide threat level: ``normal``, ``elevated``, ``high``, ``critical``.

Set by a person (``limen threat set high --reason …``, ``PUT /v1/threat-level``) or by a
playbook (the ``raise-threat`` action, which only ever raises it). Every change is a
``threat.set`` event and a notice every node hears at once (``store.broadcast``), so
:class:`ThreatView` holds the current level in memory: decisions read it without touching
the database. The level tightens the platform:

- Cedar sees it as ``context.threat_level`` in every AuthZEN decision, so policies can say
  "at ``high``, agents may not read production secrets";
- access tokens are issued for a fraction of their lifetime (:data:`TOKEN_LIFETIME_SCALE`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from limen.audit import Actor, Authorizer, Resource, record
from limen.errors import InvalidInput, unknown_choice
from limen.store import Database, UnitOfWork
from limen.store.models import ThreatLevel, utcnow

__all__ = [
    "LEVELS",
    "TOKEN_LIFETIME_SCALE",
    "TOPIC",
    "Threat",
    "ThreatService",
    "ThreatView",
    "set_level",
]

log = logging.getLogger(__name__)

LEVELS: Final = ("normal", "elevated", "high", "critical")
TOKEN_LIFETIME_SCALE: Final = {"normal": 1.0, "elevated": 0.5, "high": 0.25, "critical": 0.1}
"""The share of ``LIMEN_ACCESS_TOKEN_TTL`` an access token gets at each level."""
TOPIC: Final = "respond.threat"
_ROW: Final = 1


@dataclass(frozen=True, slots=True)
class Threat:
    level: str
    reason: str | None
    set_by: str | None
    set_at: datetime | None

    def to_document(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "reason": self.reason,
            "set_by": self.set_by,
            "set_at": self.set_at.isoformat() if self.set_at else None,
            "token_lifetime_scale": TOKEN_LIFETIME_SCALE[self.level],
        }


_NORMAL: Final = Threat("normal", None, None, None)


def current(session: Any) -> Threat:
    row = session.get(ThreatLevel, _ROW)
    if row is None:
        return _NORMAL
    return Threat(row.level, row.reason, row.set_by, row.set_at)


def set_level(
    uow: UnitOfWork, actor: Actor, level: str, *, reason: str | None, only_raise: bool = False
) -> Threat:
    """Set the level in ``uow`` (an event and a notice to every node); with ``only_raise``,
    a lower level than the current one changes nothing."""
    if level not in LEVELS:
        raise InvalidInput(unknown_choice("level", level, LEVELS))
    if reason is not None and len(reason) > 500:
        raise InvalidInput("reason: at most 500 characters")
    session = uow.session
    row = session.get(ThreatLevel, _ROW)
    previous = row.level if row is not None else "normal"
    if only_raise and LEVELS.index(level) <= LEVELS.index(previous):
        return current(session)
    if row is None:
        row = ThreatLevel(id=_ROW, level=level, set_by=actor.name)
        session.add(row)
    row.level = level
    row.reason = reason
    row.set_by = actor.name
    row.set_at = utcnow()
    uow.flush()
    record(
        session,
        actor,
        "threat.set",
        resource_type="threat_level",
        resource_name=level,
        reason=reason,
        context={"previous": previous, "level": level},
    )
    uow.publish(TOPIC, level)
    return current(session)


class ThreatView:
    """The current level, in memory, kept current by the change feed."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self.level = "normal"
        db.broadcaster.subscribe(TOPIC, self._heard)
        db.broadcaster.on_resync(self.reload)
        self.reload()

    def reload(self) -> None:
        try:
            with self._db.unit_of_work(readonly=True) as uow:
                level = current(uow.session).level
        except Exception:
            log.warning("could not read the threat level", exc_info=True)
            return
        with self._lock:
            self.level = level

    def _heard(self, payload: Any) -> None:
        if payload in LEVELS:
            with self._lock:
                self.level = payload

    def token_scale(self) -> float:
        return TOKEN_LIFETIME_SCALE.get(self.level, 1.0)

    def close(self) -> None:
        self._db.broadcaster.unsubscribe(TOPIC, self._heard)


class ThreatService:
    """Reading and setting the level, through the guard."""

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def get(self, actor: Actor) -> Threat:
        self._guard.authorize(actor, "threat.read", Resource("threat_level"))
        with self._db.unit_of_work(readonly=True) as uow:
            return current(uow.session)

    def set(self, actor: Actor, level: str, *, reason: str | None) -> Threat:
        if level not in LEVELS:
            raise InvalidInput(unknown_choice("level", level, LEVELS))
        self._guard.authorize(actor, "threat.write", Resource("threat_level", name=level))
        with self._db.unit_of_work() as uow:
            return set_level(uow, actor, level, reason=reason)
