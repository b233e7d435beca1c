"""The live detector: score every committed event as it joins the log, on a server's thread.

:class:`LiveDetector` follows the log by chain position (the order the chain fixed, which
never skips a late commit, see ``limen.audit.chain``), scores each event with the same
:class:`~limen.detect.detector.Detector` as ``limen detect replay``, and in one
transaction per pass stores the alerts it raised or extended (``detect_alerts``, an
``alert.raise`` event each), the baselines that changed (``detect_baselines``) and how far
it got (``detect_cursor``). So each event is scored once, and a restart neither rescores
nor relearns.

Several nodes share the scoring. Identities are spread over ``DetectConfig.partitions``
partitions by a stable hash of their key (:func:`~limen.detect.detector.partition_of`);
each partition has a row of its own in ``detect_cursor`` (``live:NN``: its position in
the log, the node holding it and until when). Each node running the detector keeps a
heartbeat row (``node:<id>``) and holds its share of the partitions (all of them divided
by the live nodes, rounded up): a node with more gives the rest back, a node with fewer
takes free or lapsed ones, loading their stored baselines first. A node reads the log
once for all its partitions and scores each event only in the partition of its
identity, only past that partition's position, and advances the positions of the
partitions it holds in the transaction that stores what it learned; so each event is
scored once, by one node. A node that dies stops renewing: its partitions lapse within
:data:`LEASE_SECONDS` and the others take them over from the stored state. Every lease
change locks the ``live`` row first, so nodes take turns. The thread does all database
work, never the server's event loop.

The thread wakes as soon as events are appended or linked anywhere (the store's nudge of
:data:`~limen.audit.EVENTS_APPENDED`: in process at once, from other processes over
PostgreSQL ``NOTIFY``), links them if no one else has and scores them; it also looks on
its own every ``interval`` seconds, for a nudge lost with a connection. On SQLite another
process's commit (a command beside the server, which nudges no one) wakes it through the
store's poll (:data:`~limen.store.broadcast.COMMITTED_ELSEWHERE`).

``on_alerts`` (the server's playbooks) gets the alerts raised in a pass inside the
transaction that stores them, just before it commits, so what it does commits with them;
an alert raised by an event older than :data:`LIVE_SECONDS` (history scored after a
start) is passed with ``live=False``.

A false-positive mark (``mark_false_positive`` on any node) sets the alert's
``teach_pending``; the scoring node learns its events as normal on its next pass.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import EVENTS_APPENDED, Actor, record
from limen.audit.documents import event_document
from limen.detect.alerts import Alert
from limen.detect.detector import DetectConfig, Detector, partition_of
from limen.detect.errors import InvalidEventDocument
from limen.detect.persistence import load_baselines, load_outside_peers, save_baselines
from limen.detect.reasons import Reason
from limen.detect.registry import Registry
from limen.ids import new_id
from limen.store import Database, UnitOfWork
from limen.store.broadcast import COMMITTED_ELSEWHERE
from limen.store.models import DetectAlert, DetectCursor, Event, Identity

__all__ = [
    "IDLE_RETRY_SECONDS",
    "LEASE_SECONDS",
    "LIVE_SECONDS",
    "LOOK_SECONDS",
    "PEER_REFRESH_SECONDS",
    "LiveDetector",
    "RaisedAlert",
    "Scoring",
    "scored_through",
    "scoring",
    "set_risk",
]

log = logging.getLogger(__name__)

CURSOR: Final = "live"
LOOK_SECONDS: Final = 0.25
"""How often the detector looks for new events without being nudged."""
LEASE_SECONDS: Final = 10.0
"""How long a node's hold on its partitions lasts without renewal."""
IDLE_RETRY_SECONDS: Final = 1.0
"""How often a node holding no partition asks for some."""
PEER_REFRESH_SECONDS: Final = 30.0
"""How often a node reads what other nodes' identities established (for peer groups)."""
_PEER_SLACK: Final = timedelta(seconds=30)  # clocks of nodes differ; re-reading is harmless
LIVE_SECONDS: Final = 900.0
"""An alert raised by an event older than this (history) makes no playbook act."""
BATCH: Final = 2000
GATHER_SECONDS: Final = 0.05
"""After a pass that found fewer than :data:`BATCH` events, how long new ones gather before
the next: each pass renews leases, saves baselines and commits, and a pass per committed
event spends the request handlers' interpreter on that (``benchmarks/pdp.py``, server CPU
per single decision). Well inside the 1 s an alert may take."""
_SCORED_KINDS: Final = frozenset({"human", "agent", "service"})
# What deciding whose an event is, and following a suspension, needs of an event.
_LIGHT: Final = (
    Event.chain_pos,
    Event.actor_id,
    Event.actor_kind,
    Event.actor_name,
    Event.action,
    Event.resource_id,
    Event.resource_name,
    Event.outcome,
)
# Everything ``event_document`` reads (plain rows: no ORM objects to build for each event).
_FULL: Final = (
    *_LIGHT,
    Event.id,
    Event.seq,
    Event.link,
    Event.occurred_at,
    Event.delegation,
    Event.token_id,
    Event.resource_type,
    Event.reason,
    Event.context,
)
# What a pass reads, as named tuples: a SQLAlchemy ``Row`` finds a column by name only
# after a failed attribute lookup (an AttributeError built and dropped each time), and a
# pass reads each event's columns by name some twenty-five times; that came to a sixth of
# the detector's work per event (``benchmarks/pdp.py``, server CPU per batched decision).
_LightRow = collections.namedtuple("_LightRow", [column.key for column in _LIGHT])  # type: ignore[misc]
_FullRow = collections.namedtuple("_FullRow", [column.key for column in _FULL])  # type: ignore[misc]
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
    resources: tuple[str, ...] = ()
    """The resources of its events, as ``type:id`` and ``type:name``."""


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


def _resources(alert: Alert) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for obs in alert.observations:
        if obs.resource:
            found[obs.resource] = None
        if obs.resource_type and obs.resource_name:
            found[f"{obs.resource_type}:{obs.resource_name}"] = None
    return tuple(found)


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class LiveDetector:
    """Scores the log as it grows; see the module docstring."""

    def __init__(
        self,
        db: Database,
        *,
        link: Callable[[], Any] | None = None,
        on_alerts: Callable[[UnitOfWork, Sequence[RaisedAlert]], None] | None = None,
        config: DetectConfig | None = None,
        interval: float = LOOK_SECONDS,
        lease: float = LEASE_SECONDS,
    ) -> None:
        self._db = db
        self._lease_seconds = lease
        self._link = link
        self._on_alerts = on_alerts
        self._config = config or DetectConfig()
        self._interval = interval
        self._owner = new_id()
        self._held: dict[int, int] = {}
        """The partitions this node holds, and how far each is scored."""
        self._renew_at = 0.0
        self._peers_at = 0.0
        self._peers_since: datetime | None = None
        self.detector: Detector | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.scored = 0
        """Events this node scored since it started."""

    @property
    def partitions(self) -> frozenset[int]:
        """The partitions this node scores now."""
        return frozenset(self._held)

    # -- the thread ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            broadcaster = self._db.broadcaster
            broadcaster.subscribe(EVENTS_APPENDED, self._nudged)
            broadcaster.subscribe(COMMITTED_ELSEWHERE, self._nudged)  # SQLite's other writers
            broadcaster.start()  # idempotent: `limen detect run` starts nothing else
            self._thread = threading.Thread(target=self._run, name="limen-detect", daemon=True)
            self._thread.start()

    def _nudged(self, _payload: object) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._db.broadcaster.unsubscribe(EVENTS_APPENDED, self._nudged)
        self._db.broadcaster.unsubscribe(COMMITTED_ELSEWHERE, self._nudged)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            with self._db.unit_of_work() as uow:
                self._lock_anchor(uow)
                for row in self._rows(uow):
                    if row.owner == self._owner:
                        row.owner = None
                        row.lease_until = None  # another node may take over at once
                uow.session.execute(
                    sa.delete(DetectCursor).where(DetectCursor.name == _node_name(self._owner))
                )
        except Exception:
            log.warning("could not release the detector's partitions", exc_info=True)
        self._drop(set(self._held))

    def _run(self) -> None:
        backoff = self._interval
        while not self._stop.is_set():
            self._wake.clear()  # what is nudged from here on is looked for again
            try:
                busy = self.run_once()
                backoff = self._interval
            except Exception:
                log.warning("detector pass failed; retrying", exc_info=True)
                self._drop(set(self._held))  # reload everything from the store
                backoff = min(max(backoff, 0.05) * 2, 5.0)
                self._stop.wait(backoff)  # nudges do not hurry a retry
                continue
            if not busy:
                self._wake.wait(backoff)
            elif busy < BATCH:
                self._stop.wait(GATHER_SECONDS)  # nudges meanwhile are looked at next pass

    # -- one pass ----------------------------------------------------------------------

    def run_once(self) -> int:
        """Score what is new; returns how many events were scored (0: idle or not holding)."""
        if not self._lease():
            return 0
        if self._link is not None:
            self._link()
        detector = self.detector
        assert detector is not None
        held = dict(self._held)
        start = min(held.values())
        partitions = self._config.partitions
        registry = detector.registry
        whole = len(held) == partitions  # one node: every event is this node's
        with self._db.unit_of_work(readonly=True) as uow:
            session = uow.session
            plain = _FullRow if whole else _LightRow
            rows = [
                plain._make(row)
                for row in session.execute(
                    sa.select(*(_FULL if whole else _LIGHT))
                    .where(Event.chain_pos > start)
                    .order_by(Event.chain_pos)
                    .limit(BATCH)
                )
            ]
            last = rows[-1].chain_pos if rows else start
            for identity_id in {
                row.resource_id
                for row in rows
                if row.action in _REGISTRY_ACTIONS and row.resource_id
            }:
                registry.refresh(session, identity_id)
            wanted: list[int] = []
            for row in rows:
                if row.actor_kind in _SCORED_KINDS:
                    key = registry.resolve(row.actor_id, row.actor_name, row.actor_kind).key
                    position = held.get(partition_of(key, partitions))
                    # another node's identity, or scored before this node took the partition
                    if position is not None and row.chain_pos > position:
                        wanted.append(row.chain_pos)
            if whole:
                by_position = {row.chain_pos: row for row in rows}
                documents = {pos: event_document(by_position[pos]) for pos in wanted}
            else:  # only this node's events are read in full
                documents = {}
                for chunk in range(0, len(wanted), 1000):
                    for row in session.execute(
                        sa.select(*_FULL).where(Event.chain_pos.in_(wanted[chunk : chunk + 1000]))
                    ):
                        full = _FullRow._make(row)
                        documents[full.chain_pos] = event_document(full)
            teach = [
                alert
                for alert in session.scalars(
                    sa.select(DetectAlert).where(DetectAlert.teach_pending)
                )
                if partition_of(alert.subject, partitions) in held
            ]
            taught = [(alert.id, self._teach(uow, detector, alert)) for alert in teach]
        raised: list[Alert] = []
        touched: dict[str, Alert] = {}
        closed: dict[str, Alert] = {}
        scored = 0
        for row in rows:
            document = documents.get(row.chain_pos)
            if document is None:  # still, a suspension changes who is active
                if row.outcome == "success":
                    registry.apply_status_event(
                        row.action, row.resource_id or "", row.resource_name or ""
                    )
                continue
            try:
                verdict = detector.score(document)
            except InvalidEventDocument:
                continue
            scored += 1
            if verdict.raised is not None:
                raised.append(verdict.raised)
            if verdict.alert is not None:
                touched[verdict.alert.id] = verdict.alert
            for alert in verdict.closed:
                closed[alert.id] = alert
        for alert in detector.close_idle(max(detector.clock, time.time())):
            closed[alert.id] = alert
        if not rows and not taught and not closed:
            return 0
        now = datetime.now(UTC)
        report: list[RaisedAlert] = []
        with self._db.unit_of_work() as uow:
            mine = self._confirm(uow)
            lost = set(held) if mine is None else set(held) - set(mine)
            if lost:
                uow.session.rollback()
                self._drop(set(held))  # what was scored is another node's now: start over
                return 0
            assert mine is not None
            raised_ids = {alert.id for alert in raised}
            for alert in raised:
                report.append(self._store_raised(uow, alert, now))
            for alert_id, alert in {**touched, **closed}.items():
                if alert_id not in raised_ids or alert.closed:
                    self._store_update(uow, alert)
            if report and self._on_alerts is not None:
                self._on_alerts(uow, report)  # commits with the alerts (or not at all)
            for alert_id, _ in taught:
                row = uow.session.get(DetectAlert, alert_id)
                if row is not None:
                    row.teach_pending = False
            save_baselines(uow, detector)
            for row in mine.values():
                row.position = max(row.position, last)
        for partition in held:
            self._held[partition] = max(held[partition], last)
        self.scored += scored
        return max(scored, 1) if rows else 1

    def _teach(self, uow: UnitOfWork, detector: Detector, row: DetectAlert) -> Any:
        events = list(
            uow.session.scalars(sa.select(Event).where(Event.id.in_(list(row.event_ids or []))))
        )
        codes = [reason.get("code") for reason in row.reasons or [] if reason.get("code")]
        try:
            held = detector.episodes.held.get(row.id)
            if held is not None and len(held.observations) >= len(held.event_ids):
                detector.mark_false_positive(row.id)
            else:  # after a restart or a takeover: its events come from the log
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
            resources=_resources(alert),
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

    # -- the partitions ----------------------------------------------------------------

    def _lease(self) -> bool:
        """Take, renew or give back partitions; load the state of those newly taken.

        A node renews a third of the way through its leases; a node holding nothing
        tries again every :data:`IDLE_RETRY_SECONDS`. Returns whether it holds any.
        """
        clock = time.monotonic()
        if clock < self._renew_at:
            return bool(self._held)
        gained: dict[int, int] = {}
        given: set[int] = set()
        with self._db.unit_of_work() as uow:
            anchor = self._lock_anchor(uow)
            session = uow.session
            now = datetime.now(UTC)
            session.execute(
                sa.delete(DetectCursor).where(
                    DetectCursor.name.like(f"{_NODE_PREFIX}%"),
                    DetectCursor.lease_until < now,
                )
            )
            heartbeat = session.get(DetectCursor, _node_name(self._owner))
            if heartbeat is None:
                heartbeat = DetectCursor(name=_node_name(self._owner), position=0)
                session.add(heartbeat)
            heartbeat.owner = self._owner
            heartbeat.lease_until = now + timedelta(seconds=self._lease_seconds)
            uow.flush()
            nodes = session.scalar(
                sa.select(sa.func.count())
                .select_from(DetectCursor)
                .where(DetectCursor.name.like(f"{_NODE_PREFIX}%"))
            )
            rows = {_partition_number(row.name): row for row in self._rows(uow)}
            for partition in range(self._config.partitions):
                if partition not in rows:
                    row = DetectCursor(name=_partition_name(partition), position=anchor.position)
                    session.add(row)
                    rows[partition] = row
            share = math.ceil(self._config.partitions / max(nodes or 1, 1))
            mine = sorted(
                number
                for number, row in rows.items()
                if row.owner == self._owner and number in self._held
            )
            lost = set(self._held) - set(mine)
            for number in mine[share:]:
                given.add(number)
                rows[number].owner = None
                rows[number].lease_until = None
            mine = mine[:share]
            free = [
                number
                for number, row in sorted(rows.items())
                if number not in mine
                and (
                    row.owner in (None, self._owner)
                    or row.lease_until is None
                    or row.lease_until <= now
                )
            ]
            for number in free[: max(share - len(mine), 0)]:
                gained[number] = rows[number].position
            for number in [*mine, *gained]:
                rows[number].owner = self._owner
                rows[number].lease_until = now + timedelta(seconds=self._lease_seconds)
            uow.flush()
        third = self._lease_seconds / 3
        self._renew_at = clock + (third if mine or gained else min(third, IDLE_RETRY_SECONDS))
        self._drop(lost | given)
        if gained:
            self._adopt(gained)
        elif self._held and clock >= self._peers_at:
            self._refresh_peers()
        return bool(self._held)

    def _refresh_peers(self) -> None:
        """Learn what identities scored by other nodes established since the last time."""
        detector = self.detector
        if detector is None or len(self._held) == self._config.partitions:
            return
        since = self._peers_since - _PEER_SLACK if self._peers_since is not None else None
        with self._db.unit_of_work(readonly=True) as uow:
            newest = load_outside_peers(uow.session, detector, held=self._held, since=since)
        if newest is not None:
            self._peers_since = newest
        self._peers_at = time.monotonic() + PEER_REFRESH_SECONDS

    def _adopt(self, gained: dict[int, int]) -> None:
        """Load the stored baselines of partitions just taken (and the registry, at first)."""
        with self._db.unit_of_work(readonly=True) as uow:
            if self.detector is None:
                detector = Detector(config=self._config)
                detector.registry = Registry.load(uow.session)
                self.detector = detector
            load_baselines(uow.session, self.detector, partitions=list(gained))
            self._resume_episodes(uow, gained)
            held = set(self._held) | set(gained)
            if len(held) < self._config.partitions:
                newest = load_outside_peers(uow.session, self.detector, held=held)
                self._peers_since = newest
                self._peers_at = time.monotonic() + PEER_REFRESH_SECONDS
        self._held.update(gained)

    def _resume_episodes(self, uow: UnitOfWork, gained: dict[int, int]) -> None:
        """The alerts still open for identities of partitions just taken: their later
        suspicious events join them, as on the node that raised them, instead of
        raising new ones."""
        detector = self.detector
        assert detector is not None
        count = self._config.partitions
        for row in uow.session.scalars(
            sa.select(DetectAlert).where(DetectAlert.closed.is_(False)).order_by(DetectAlert.id)
        ):
            if partition_of(row.subject, count) not in gained:
                continue
            reasons = {
                str(item["code"]): Reason(
                    str(item["code"]), float(item.get("weight", 0.0)), str(item.get("text", ""))
                )
                for item in row.reasons or []
                if item.get("code")
            }
            detector.episodes.resume(
                Alert(
                    id=row.id,
                    identity=row.subject,
                    identity_name=row.identity_name,
                    kind=row.kind,
                    first_ts=row.first_at.timestamp(),
                    last_ts=row.last_at.timestamp(),
                    raised_ts=row.raised_at.timestamp(),
                    score=row.score,
                    reasons=reasons,
                    event_ids=list(row.event_ids or []),
                )
            )

    def _drop(self, partitions: set[int]) -> None:
        """Forget the state of partitions no longer held (another node scores them now)."""
        if not partitions:
            return
        for number in partitions:
            self._held.pop(number, None)
        if not self._held:
            self.detector = None
            self._renew_at = 0.0
            return
        detector = self.detector
        if detector is not None:
            count = self._config.partitions
            detector.forget(
                [key for key in detector.baselines if partition_of(key, count) in partitions]
            )

    def _lock_anchor(self, uow: UnitOfWork) -> DetectCursor:
        """The ``live`` row, locked: every change of who holds what takes turns on it.

        Its position is where a log scored before partitions existed had got to; new
        partition rows start from there.
        """
        # SQLAlchemy writes no FOR UPDATE on SQLite, whose writer holds the one lock anyway.
        query = sa.select(DetectCursor).where(DetectCursor.name == CURSOR).with_for_update()
        row = uow.session.scalar(query)
        if row is None:
            row = DetectCursor(name=CURSOR, position=0)
            uow.session.add(row)
            uow.flush()
        return row

    def _rows(self, uow: UnitOfWork, *, only: Iterable[int] | None = None) -> list[DetectCursor]:
        """Partition rows, locked, in name order (so two nodes never wait on each other)."""
        query = sa.select(DetectCursor).where(DetectCursor.name.like(f"{_PARTITION_PREFIX}%"))
        if only is not None:
            query = query.where(DetectCursor.name.in_([_partition_name(n) for n in only]))
        return list(uow.session.scalars(query.order_by(DetectCursor.name).with_for_update()))

    def _confirm(self, uow: UnitOfWork) -> dict[int, DetectCursor] | None:
        """This node's partition rows, locked and renewed, if it still holds them all."""
        now = datetime.now(UTC)
        rows = {_partition_number(row.name): row for row in self._rows(uow, only=self._held)}
        if any(row.owner != self._owner for row in rows.values()) or set(rows) != set(self._held):
            return None
        for row in rows.values():
            row.lease_until = now + timedelta(seconds=self._lease_seconds)
        return rows


_PARTITION_PREFIX: Final = f"{CURSOR}:"
_NODE_PREFIX: Final = "node:"


def _partition_name(number: int) -> str:
    return f"{_PARTITION_PREFIX}{number:03d}"


def _partition_number(name: str) -> int:
    return int(name[len(_PARTITION_PREFIX) :])


def _node_name(owner: str) -> str:
    return f"{_NODE_PREFIX}{owner}"


def scored_through(session: Session) -> int:
    """The chain position up to which every partition has been scored (0: none yet)."""
    lowest = session.scalar(
        sa.select(sa.func.min(DetectCursor.position)).where(
            DetectCursor.name.like(f"{_PARTITION_PREFIX}%")
        )
    )
    return int(lowest) if lowest is not None else 0


@dataclass(frozen=True, slots=True)
class Scoring:
    """Whether the live detector scores every identity's events now, on any node."""

    partitions: int
    held: int
    """Partitions held by a node whose lease has not lapsed."""

    @property
    def live(self) -> bool:
        """Every partition is held: each new event is scored as it commits. Until then
        (the detector starting, a node's partitions lapsing), events wait in the log and
        are scored once their partition is taken; none is skipped."""
        return self.held >= self.partitions


def scoring(session: Session, *, partitions: int | None = None) -> Scoring:
    """How much of the log's identities the live detectors hold now."""
    count = partitions if partitions is not None else DetectConfig().partitions
    held = session.scalar(
        sa.select(sa.func.count())
        .select_from(DetectCursor)
        .where(
            DetectCursor.name.like(f"{_PARTITION_PREFIX}%"),
            DetectCursor.owner.is_not(None),
            DetectCursor.lease_until > datetime.now(UTC),
        )
    )
    return Scoring(partitions=count, held=int(held or 0))
