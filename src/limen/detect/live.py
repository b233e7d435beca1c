"""The live detector: score every committed event as it joins the log, on a server's thread.

:class:`LiveDetector` follows the log by chain position (the order the chain fixed, which
never skips a late commit, see ``limen.audit.chain``), scores each event with the same
:class:`~limen.detect.detector.Detector` as ``limen detect replay``, and in one
transaction per pass stores the alerts it raised or extended (``detect_alerts``, an
``alert.raise`` event each), the baselines that changed (``detect_baselines``) and how far
it got (``detect_cursor``). So each event is scored once, and a restart neither rescores
nor relearns.

Several nodes may run it: the one holding the cursor's lease scores; when that node stops
renewing (it died), another takes over within :data:`LEASE_SECONDS`, loading the stored
baselines first. The thread does all database work, never the server's event loop.

After each pass's commit, ``on_alerts`` (the server's playbooks) gets the alerts raised in
it; an alert raised by an event older than :data:`LIVE_SECONDS` (history scored after a
start) is passed with ``live=False``.

A false-positive mark (``mark_false_positive`` on any node) sets the alert's
``teach_pending``; the scoring node learns its events as normal on its next pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa

from limen.audit import Actor, record
from limen.audit.documents import event_document
from limen.detect.alerts import Alert
from limen.detect.detector import DetectConfig, Detector
from limen.detect.errors import InvalidEventDocument
from limen.detect.persistence import load_baselines, save_baselines
from limen.detect.registry import Registry
from limen.ids import new_id
from limen.store import Database, UnitOfWork
from limen.store.models import DetectAlert, DetectCursor, Event, Identity

__all__ = ["LEASE_SECONDS", "LIVE_SECONDS", "LiveDetector", "RaisedAlert", "set_risk"]

log = logging.getLogger(__name__)

CURSOR: Final = "live"
LEASE_SECONDS: Final = 10.0
"""How long a node's hold on the detector lasts without renewal."""
LIVE_SECONDS: Final = 900.0
"""An alert raised by an event older than this (history) makes no playbook act."""
BATCH: Final = 2000
_SCORED_KINDS: Final = frozenset({"human", "agent", "service"})
# Read again from the identity table before a batch is scored (status changes are
# followed from the events themselves, in order).
_REGISTRY_ACTIONS: Final = frozenset({"identity.create", "identity.update"})
DETECTOR_ACTOR: Final = Actor.system("limen-detect")


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """What playbooks see of an alert just raised."""

    id: str
    subject: str
    identity_id: str | None
    identity_name: str
    kind: str
    score: float
    severity: str
    reason_codes: tuple[str, ...]
    raised_at: datetime
    live: bool


def raise_risk(uow: UnitOfWork, identity_id: str, score: float) -> None:
    """Set the identity's ``risk`` attribute (0-100, what Cedar sees as ``principal.risk``)
    to at least this alert's score."""
    set_risk(uow, identity_id, round(score * 100), only_raise=True)


def set_risk(uow: UnitOfWork, identity_id: str, risk: int, *, only_raise: bool = False) -> None:
    from limen import identity  # identity records its events through audit, as we do

    row = uow.session.get(Identity, identity_id)
    if row is None or str(row.status) == "deprovisioned":
        return
    attributes = dict(row.attributes or {})
    current = attributes.get("risk", 0)
    if not isinstance(current, int | float) or isinstance(current, bool):
        current = 0
    if current == risk or (only_raise and current >= risk):
        return
    attributes["risk"] = risk
    identity.update(uow, DETECTOR_ACTOR, identity_id, attributes=attributes)


def alert_reasons(alert: Alert) -> list[dict[str, Any]]:
    return [reason.to_document() for reason in alert.top_reasons()]


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class LiveDetector:
    """Scores the log as it grows; see the module docstring."""

    def __init__(
        self,
        db: Database,
        *,
        link: Callable[[], Any] | None = None,
        on_alerts: Callable[[Sequence[RaisedAlert]], None] | None = None,
        config: DetectConfig | None = None,
        interval: float = 0.05,
    ) -> None:
        self._db = db
        self._link = link
        self._on_alerts = on_alerts
        self._config = config or DetectConfig()
        self._interval = interval
        self._owner = new_id()
        self._holding = False
        self._renew_at = 0.0
        self._position = 0
        self.detector: Detector | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.scored = 0
        """Events this node scored since it started."""

    # -- the thread ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="limen-detect", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._holding:
            try:
                with self._db.unit_of_work() as uow:
                    row = uow.session.get(DetectCursor, CURSOR)
                    if row is not None and row.owner == self._owner:
                        row.lease_until = None  # another node may take over at once
            except Exception:
                log.warning("could not release the detector's lease", exc_info=True)
            self._holding = False

    def _run(self) -> None:
        backoff = self._interval
        while not self._stop.is_set():
            try:
                busy = self.run_once()
                backoff = self._interval
            except Exception:
                log.warning("detector pass failed; retrying", exc_info=True)
                self._holding = False  # reload everything from the store
                busy = 0
                backoff = min(max(backoff, 0.05) * 2, 5.0)
            if not busy:
                self._stop.wait(backoff)

    # -- one pass ----------------------------------------------------------------------

    def run_once(self) -> int:
        """Score what is new; returns how many events were scored (0: idle or not holding)."""
        if not self._lease():
            return 0
        if self._link is not None:
            self._link()
        detector = self.detector
        assert detector is not None
        with self._db.unit_of_work(readonly=True) as uow:
            rows = list(
                uow.session.scalars(
                    sa.select(Event)
                    .where(Event.chain_pos > self._position)
                    .order_by(Event.chain_pos)
                    .limit(BATCH)
                )
            )
            documents = [event_document(row) for row in rows]
            last = rows[-1].chain_pos if rows else self._position
            refresh = {
                doc["resource"]["id"]
                for doc in documents
                if doc["action"] in _REGISTRY_ACTIONS and doc["resource"]["id"]
            }
            for identity_id in refresh:
                detector.registry.refresh(uow.session, identity_id)
            teach = list(
                uow.session.scalars(sa.select(DetectAlert).where(DetectAlert.teach_pending))
            )
            taught = [(alert.id, self._teach(uow, detector, alert)) for alert in teach]
        raised: list[Alert] = []
        touched: dict[str, Alert] = {}
        closed: dict[str, Alert] = {}
        for document in documents:
            actor = document["actor"]
            if actor.get("kind") not in _SCORED_KINDS:
                self._follow_status(detector, document)
                continue
            try:
                verdict = detector.score(document)
            except InvalidEventDocument:
                continue
            if verdict.raised is not None:
                raised.append(verdict.raised)
            if verdict.alert is not None:
                touched[verdict.alert.id] = verdict.alert
            for alert in verdict.closed:
                closed[alert.id] = alert
        for alert in detector.close_idle(max(detector.clock, time.time())):
            closed[alert.id] = alert
        if not documents and not taught and not closed:
            return 0
        now = datetime.now(UTC)
        report: list[RaisedAlert] = []
        with self._db.unit_of_work() as uow:
            if not self._renew(uow):
                self._holding = False
                return 0
            raised_ids = {alert.id for alert in raised}
            for alert in raised:
                report.append(self._store_raised(uow, alert, now))
            for alert_id, alert in {**touched, **closed}.items():
                if alert_id not in raised_ids or alert.closed:
                    self._store_update(uow, alert)
            for alert_id, _ in taught:
                row = uow.session.get(DetectAlert, alert_id)
                if row is not None:
                    row.teach_pending = False
            save_baselines(uow, detector)
            cursor = uow.session.get(DetectCursor, CURSOR)
            assert cursor is not None
            cursor.position = last
        self._position = last
        self.scored += len(documents)
        if report and self._on_alerts is not None:
            try:
                self._on_alerts(report)
            except Exception:
                log.warning("acting on alerts failed", exc_info=True)
        return max(len(documents), 1)

    def _follow_status(self, detector: Detector, document: dict[str, Any]) -> None:
        """A suspension by an operator or Limen itself still changes who is active."""
        if document["outcome"] == "success":
            resource = document["resource"]
            detector.registry.apply_status_event(
                document["action"], resource["id"] or "", resource["name"] or ""
            )

    def _teach(self, uow: UnitOfWork, detector: Detector, row: DetectAlert) -> Any:
        events = list(
            uow.session.scalars(sa.select(Event).where(Event.id.in_(list(row.event_ids or []))))
        )
        codes = [reason.get("code") for reason in row.reasons or [] if reason.get("code")]
        try:
            if row.id in detector.episodes.held:
                detector.mark_false_positive(row.id)
            else:
                detector.mark_false_positive(
                    row.id,
                    events=[event_document(event) for event in events],
                    reasons=codes,
                    identity=row.subject,
                )
        except Exception:
            log.warning("could not learn false-positive alert %s", row.id, exc_info=True)
        return row.id

    def _store_raised(self, uow: UnitOfWork, alert: Alert, now: datetime) -> RaisedAlert:
        detector = self.detector
        assert detector is not None
        # An actor the registry never knew is keyed by name, not by an identity id.
        identity_id = None if alert.identity.startswith("actor:") else alert.identity
        row = DetectAlert(
            id=alert.id,
            subject=alert.identity,
            identity_id=identity_id,
            identity_name=alert.identity_name,
            kind=alert.kind,
            score=alert.score,
            severity=alert.severity,
            status="open",
            reasons=alert_reasons(alert),
            event_ids=list(alert.event_ids),
            first_at=_time(alert.first_ts),
            last_at=_time(alert.last_ts),
            raised_at=_time(alert.raised_ts),
            closed=alert.closed,
            teach_pending=False,
        )
        uow.session.add(row)
        codes = tuple(reason.code for reason in alert.top_reasons())
        record(
            uow.session,
            DETECTOR_ACTOR,
            "alert.raise",
            resource_type="identity",
            resource_id=identity_id,
            resource_name=alert.identity_name,
            context={
                "alert": alert.id,
                "score": round(alert.score, 4),
                "severity": alert.severity,
                "reasons": list(codes),
                "events": list(alert.event_ids[:20]),
            },
        )
        if identity_id is not None:
            raise_risk(uow, identity_id, alert.score)
        live = (now - row.raised_at) <= timedelta(seconds=LIVE_SECONDS)
        return RaisedAlert(
            id=alert.id,
            subject=alert.identity,
            identity_id=identity_id,
            identity_name=alert.identity_name,
            kind=alert.kind,
            score=alert.score,
            severity=alert.severity,
            reason_codes=codes,
            raised_at=row.raised_at,
            live=live,
        )

    def _store_update(self, uow: UnitOfWork, alert: Alert) -> None:
        row = uow.session.get(DetectAlert, alert.id)
        if row is None:
            return
        row.score = alert.score
        row.severity = alert.severity
        row.reasons = alert_reasons(alert)
        row.event_ids = list(alert.event_ids)
        row.first_at = _time(alert.first_ts)
        row.last_at = _time(alert.last_ts)
        row.closed = alert.closed
        if row.identity_id is not None and row.status in ("open", "acknowledged"):
            raise_risk(uow, row.identity_id, alert.score)

    # -- the lease ---------------------------------------------------------------------

    def _lease(self) -> bool:
        """Take or renew the hold on the cursor; load the state when newly taken.

        A node that holds it renews a third of the way through, and each pass that
        stores something renews it too, so an idle pass writes nothing.
        """
        if self._holding and time.monotonic() < self._renew_at:
            return True
        with self._db.unit_of_work() as uow:
            held = self._renew(uow)
            cursor = uow.session.get(DetectCursor, CURSOR)
            position = cursor.position if held and cursor is not None else 0
        if not held:
            self._holding = False
            return False
        if not self._holding:
            detector = Detector(config=self._config)
            with self._db.unit_of_work(readonly=True) as uow:
                detector.registry = Registry.load(uow.session)
                load_baselines(uow.session, detector)
            self.detector = detector
            self._position = position
            self._holding = True
        return True

    def _renew(self, uow: UnitOfWork) -> bool:
        session = uow.session
        now = datetime.now(UTC)
        # SQLAlchemy writes no FOR UPDATE on SQLite, whose writer holds the one lock anyway.
        query = sa.select(DetectCursor).where(DetectCursor.name == CURSOR).with_for_update()
        row = session.scalar(query)
        if row is None:
            row = DetectCursor(name=CURSOR, position=0)
            session.add(row)
        elif (
            row.owner not in (None, self._owner)
            and row.lease_until is not None
            and row.lease_until > now
        ):
            return False
        row.owner = self._owner
        row.lease_until = now + timedelta(seconds=LEASE_SECONDS)
        uow.flush()
        self._renew_at = time.monotonic() + LEASE_SECONDS / 3
        return True
