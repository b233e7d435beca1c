"""Alerts: high-scoring events merged into one episode per identity.

An alert opens when an event scores at least the alert threshold. Until the identity goes
``episode_gap`` seconds (of event time) without another suspicious event, every event
scoring at least the join threshold joins it; suspicious events just before the one that
raised it join too, so ``from`` is where the episode started rather than where it became
certain. Its score is the highest of its events, its reasons the strongest per code.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from limen.detect.reasons import Reason
from limen.ids import new_id

if TYPE_CHECKING:
    from limen.detect.observation import Observation

__all__ = ["Alert", "Episodes", "Severity", "severity_of"]

Severity = Literal["low", "medium", "high", "critical"]

_HELD_ALERTS: Final = 10000
_REASONS_SHOWN: Final = 6


def severity_of(score: float) -> Severity:
    """``critical`` from 0.9, ``high`` from 0.8, ``medium`` from 0.7, else ``low``."""
    if score >= 0.9:
        return "critical"
    if score >= 0.8:
        return "high"
    if score >= 0.7:
        return "medium"
    return "low"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Alert:
    """One episode of suspicious behaviour by one identity."""

    id: str
    identity: str
    """The identity's key (its id, or ``actor:<name>`` for an actor Limen does not manage)."""
    identity_name: str
    kind: str
    first_ts: float
    last_ts: float
    raised_ts: float
    score: float
    reasons: dict[str, Reason] = field(default_factory=dict)
    event_ids: list[str] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list, repr=False)
    peaks: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0], repr=False)
    closed: bool = False

    @property
    def severity(self) -> Severity:
        return severity_of(self.score)

    def top_reasons(self, limit: int = _REASONS_SHOWN) -> list[Reason]:
        """The strongest reasons first; "same session as an alert" after every other."""
        return sorted(
            self.reasons.values(),
            key=lambda r: (r.code != "alerted-session", r.weight),
            reverse=True,
        )[:limit]

    def to_document(self) -> dict[str, Any]:
        """The replay output line (``docs/detect.md``)."""
        return {
            "alert": self.id,
            "identity": self.identity,
            "identity_name": self.identity_name,
            "kind": self.kind,
            "from": _iso(self.first_ts),
            "to": _iso(self.last_ts),
            "raised_at": _iso(self.raised_ts),
            "score": round(self.score, 4),
            "severity": self.severity,
            "reasons": [reason.text for reason in self.top_reasons()],
            "reason_codes": [reason.code for reason in self.top_reasons()],
            "events": list(self.event_ids),
        }


class Episodes:
    """Open and recently closed alerts; the merging rules of the module docstring."""

    def __init__(
        self,
        *,
        alert_threshold: float,
        join_threshold: float,
        gap: float,
        max_events: int,
    ) -> None:
        self.alert_threshold = alert_threshold
        self.join_threshold = join_threshold
        self.gap = gap
        self.max_events = max_events
        self.open: dict[str, Alert] = {}
        self.held: OrderedDict[str, Alert] = OrderedDict()
        # Suspicious events below the alert threshold, per identity, that may open an episode.
        self._lead: dict[str, deque[tuple[Observation, float, list[Reason]]]] = {}

    def offer(
        self,
        obs: Observation,
        *,
        key: str,
        name: str,
        kind: str,
        score: float,
        reasons: list[Reason],
        peaks: tuple[float, float, float, float],
    ) -> tuple[Alert | None, list[Alert]]:
        """Add a scored event; returns (the alert it raised, if any; alerts it closed)."""
        closed: list[Alert] = []
        current = self.open.get(key)
        if current is not None and obs.ts - current.last_ts > self.gap:
            closed.append(self._close(key))
            current = None
        if score < self.join_threshold:
            return None, closed
        if current is not None:
            self._join(current, obs, score, reasons, peaks)
            return None, closed
        if score < self.alert_threshold:
            lead = self._lead.get(key)
            if lead is None:
                lead = self._lead[key] = deque(maxlen=16)
            lead.append((obs, score, reasons))
            return None, closed
        alert = Alert(
            id=new_id(),
            identity=key,
            identity_name=name,
            kind=kind,
            first_ts=obs.ts,
            last_ts=obs.ts,
            raised_ts=obs.ts,
            score=score,
        )
        for earlier, earlier_score, earlier_reasons in self._lead.pop(key, ()):
            if obs.ts - earlier.ts <= self.gap:
                self._join(alert, earlier, earlier_score, earlier_reasons, None)
                alert.first_ts = min(alert.first_ts, earlier.ts)
        self._join(alert, obs, score, reasons, peaks)
        self.open[key] = alert
        self.held[alert.id] = alert
        while len(self.held) > _HELD_ALERTS:
            self.held.popitem(last=False)
        return alert, closed

    def _join(
        self,
        alert: Alert,
        obs: Observation,
        score: float,
        reasons: list[Reason],
        peaks: tuple[float, float, float, float] | None,
    ) -> None:
        alert.last_ts = max(alert.last_ts, obs.ts)
        alert.score = max(alert.score, score)
        if len(alert.event_ids) < self.max_events:
            alert.event_ids.append(obs.event_id)
            alert.observations.append(obs)
        for reason in reasons:
            known = alert.reasons.get(reason.code)
            if known is None or reason.weight > known.weight:
                alert.reasons[reason.code] = reason
        if peaks is not None:
            alert.peaks = [max(a, b) for a, b in zip(alert.peaks, peaks, strict=True)]

    def _close(self, key: str) -> Alert:
        alert = self.open.pop(key)
        alert.closed = True
        return alert

    def close_idle(self, now: float) -> list[Alert]:
        """Close every episode idle for longer than the gap at event time ``now``."""
        idle = [key for key, alert in self.open.items() if now - alert.last_ts > self.gap]
        stale = [
            key for key, lead in self._lead.items() if not lead or now - lead[-1][0].ts > self.gap
        ]
        for key in stale:
            del self._lead[key]
        return [self._close(key) for key in idle]

    def resume(self, alert: Alert) -> None:
        """Hold an episode another node (or an earlier run) opened and stored: the
        identity's next suspicious events join it."""
        current = self.open.get(alert.identity)
        if current is None or current.last_ts <= alert.last_ts:
            self.open[alert.identity] = alert
        self.held[alert.id] = alert

    def forget(self, key: str) -> None:
        """Drop an identity's open episode and the events that may open one."""
        self.open.pop(key, None)
        self._lead.pop(key, None)

    def close_all(self) -> list[Alert]:
        return [self._close(key) for key in list(self.open)]
