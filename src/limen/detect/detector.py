"""The detector: score each event against its identity's baseline, learn, raise alerts.

``Detector.score(document)`` is the whole per-event path, the same for a live event just
committed and for a line of a replayed file:

1. resolve the actor in the :class:`~limen.detect.registry.Registry` (an unknown actor
   becomes a shadow identity) and follow lifecycle events, so an owner's suspension is
   seen from the event that recorded it;
2. gather evidence against the identity's :class:`~limen.detect.baseline.Baseline` and
   its peers, plus standing (acting for a suspended owner, or while suspended);
3. turn the evidence into a score: ``1 - exp(-nats / scale)``. Evidence is surprise in
   nats (``-ln`` of a probability under the baseline), so the score reads as "how
   unlikely under its own normal": 0.6 at about 6 nats, i.e. odds of about 1 in 400;
4. learn the event, less the more suspicious it is; an event at or above the alert
   threshold teaches nothing until an alert holding it is marked a false positive;
5. merge high scores into alert episodes (see ``alerts``).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from limen.detect.alerts import Alert, Episodes
from limen.detect.baseline import GROUP_CAPS, MACHINE_CAPS, Baseline, Evidence
from limen.detect.errors import AlertNotFound
from limen.detect.observation import Observation, observe
from limen.detect.peers import PeerIndex
from limen.detect.reasons import Reason, explain
from limen.detect.registry import IdentityInfo, Registry

__all__ = ["DetectConfig", "Detector", "Verdict", "partition_of"]

_STANDING_NATS: Final = 9.0
# The share of an alerted session's score its later events inherit.
_SESSION_SHARE: Final = 0.8
_PLACE_DIMENSIONS: Final = (5, 6, 8)  # net, asn, ua: see baseline.DIMENSIONS
_ACCEPT_SECONDS: Final = 30 * 86400.0
# Reasons a false-positive mark cannot teach through counts: it accepts them instead.
_ACCEPTABLE: Final = frozenset(
    {"owner-inactive", "actor-inactive", "impossible-travel", "concurrent-access", "refusals"}
)


@dataclass(frozen=True, slots=True)
class DetectConfig:
    """Thresholds of the detector. Scores are in [0, 1]."""

    alert_threshold: float = 0.6
    """An event scoring at least this raises (or joins) an alert."""
    join_threshold: float = 0.45
    """An event scoring at least this joins an identity's open alert."""
    learn_threshold: float = 0.3
    """Events below this are learned fully; above, less and less, none from the alert threshold."""
    scale: float = 6.5
    """Nats of evidence for a score of ``1 - 1/e``."""
    episode_gap: float = 1800.0
    """Seconds of event time without a suspicious event that close an episode."""
    max_alert_events: int = 200
    """Events kept per alert (ids and the observations a false-positive mark learns)."""
    false_positive_weight: float = 5.0
    """How many ordinary sightings one event of a false-positive alert is worth."""
    partitions: int = 64
    """Number of partitions identities are spread over (see :func:`partition_of`)."""


def partition_of(key: str, partitions: int) -> int:
    """The partition an identity's baseline belongs to: stable across nodes and restarts."""
    return zlib.crc32(key.encode()) % partitions


class Verdict:
    """The detector's judgement on one event."""

    __slots__ = ("_evidence", "_info", "alert", "closed", "event_id", "identity", "raised", "score")

    def __init__(
        self,
        *,
        event_id: str,
        identity: str,
        score: float,
        evidence: Evidence,
        info: IdentityInfo,
    ) -> None:
        self.event_id = event_id
        self.identity = identity
        self.score = score
        self.raised: Alert | None = None
        """The alert this event raised, if it opened one."""
        self.alert: Alert | None = None
        """The open alert this event belongs to, if any."""
        self.closed: list[Alert] = []
        """Alerts of this identity that this event's time closed."""
        self._evidence = evidence
        self._info = info

    @property
    def reasons(self) -> list[Reason]:
        """The evidence as readable reasons, strongest first."""
        return _reasons(self._evidence, self._info)


def _reasons(evidence: Evidence, info: IdentityInfo) -> list[Reason]:
    items = sorted(evidence.items, key=lambda item: item[2], reverse=True)
    return [
        Reason(code, nats, explain(code, facts, kind=info.kind, offset_hours=info.utc_offset))
        for code, _group, nats, facts in items
    ]


class Detector:
    """Per-identity baselines, the peer index and the alert episodes, in memory."""

    def __init__(self, registry: Registry | None = None, *, config: DetectConfig | None = None):
        self.registry = registry if registry is not None else Registry()
        self.config = config or DetectConfig()
        self.baselines: dict[str, Baseline] = {}
        self.peers = PeerIndex()
        self.episodes = Episodes(
            alert_threshold=self.config.alert_threshold,
            join_threshold=self.config.join_threshold,
            gap=self.config.episode_gap,
            max_events=self.config.max_alert_events,
        )
        self.clock = 0.0
        """The latest event time seen."""
        self._dirty: set[str] = set()
        # identity scored elsewhere (another node's partition) -> the values it established
        self._outside: dict[str, set[tuple[str, str]]] = {}
        # identity -> session marker -> (score of the alert it carried, last suspicious time)
        self._sessions: dict[str, dict[str, tuple[float, float]]] = {}

    # -- scoring -------------------------------------------------------------------

    def score(self, event: Mapping[str, Any] | Observation, *, learn: bool = True) -> Verdict:
        """Score one event document (or observation), learn from it, merge alerts."""
        obs = event if isinstance(event, Observation) else observe(event)
        registry = self.registry
        if obs.action in _LIFECYCLE and obs.outcome == "success":
            registry.apply_status_event(
                obs.action, obs.resource.partition(":")[2], obs.resource_name
            )
        info = registry.resolve(obs.actor_id, obs.actor_name, obs.actor_kind)
        key = info.key
        baseline = self.baselines.get(key)
        if baseline is None:
            baseline = self.baselines[key] = Baseline()
            if info.groups:
                self.peers.join(info.groups, key)
        evidence = baseline.assess(
            obs,
            groups=info.groups,
            peers=self.peers,
            offset_hours=info.utc_offset,
            member=key,
            machine=info.kind in _MACHINES,
        )
        self._standing(obs, info, evidence)
        caps = MACHINE_CAPS if info.kind in _MACHINES else GROUP_CAPS
        nats = evidence.combine(baseline.accepted, obs.ts, caps=caps)
        config = self.config
        score = 1.0 - math.exp(-nats / config.scale)
        score = self._follow_session(key, obs, score, evidence)
        if learn:
            if score <= config.learn_threshold:
                weight = 1.0
            else:
                weight = max(
                    0.0,
                    (config.alert_threshold - score)
                    / (config.alert_threshold - config.learn_threshold),
                )
            baseline.learn(
                obs,
                evidence,
                weight=weight,
                groups=info.groups,
                peers=self.peers,
                offset_hours=info.utc_offset,
                member=key,
            )
            self._dirty.add(key)
        if obs.ts > self.clock:
            self.clock = obs.ts
        verdict = Verdict(
            event_id=obs.event_id, identity=key, score=score, evidence=evidence, info=info
        )
        if score >= config.join_threshold or key in self.episodes.open:
            reasons = _reasons(evidence, info) if score >= config.join_threshold else []
            raised, closed = self.episodes.offer(
                obs,
                key=key,
                name=info.name,
                kind=info.kind,
                score=score,
                reasons=reasons,
                peaks=(baseline.rate, baseline.novel_rate, baseline.byte_rate, baseline.day_bytes),
            )
            verdict.raised = raised
            verdict.closed = closed
            verdict.alert = self.episodes.open.get(key)
        return verdict

    def _follow_session(
        self, key: str, obs: Observation, score: float, evidence: Evidence
    ) -> float:
        """An event in the same session (or, without one, the same network and client) as
        an event that raised an alert minutes ago belongs to the same episode.

        The session inherits most of the alert's score until ``episode_gap`` passes
        without an event suspicious on its own; the real owner's other sessions do not.
        Without a session id, only an unfamiliar network or client marks one: the usual
        place is shared with the identity's real work.
        """
        config = self.config
        marker = f"s:{obs.session}" if obs.session else f"f:{obs.asn}|{obs.net}|{obs.ua}"
        sessions = self._sessions.get(key)
        if score >= config.alert_threshold:
            if not obs.session and not any(evidence.novel[i] for i in _PLACE_DIMENSIONS):
                return score
            if sessions is None:
                sessions = self._sessions[key] = {}
            held = sessions.get(marker)
            sessions[marker] = (max(score, held[0]) if held else score, obs.ts)
            if len(sessions) > 8:
                del sessions[min(sessions, key=lambda m: sessions[m][1])]
            return score
        if sessions is None:
            return score
        held = sessions.get(marker)
        if held is None:
            return score
        if obs.ts - held[1] > config.episode_gap:
            del sessions[marker]
            return score
        if score >= config.join_threshold:
            sessions[marker] = (held[0], obs.ts)
        inherited = _SESSION_SHARE * held[0]
        if inherited <= score:
            return score
        nats = -config.scale * math.log(1.0 - inherited) - evidence.total
        evidence.items.append(
            (
                "alerted-session",
                "episode",
                nats,
                {"score": held[0], "minutes": (obs.ts - held[1]) / 60},
            )
        )
        evidence.total += nats
        return inherited

    def _standing(self, obs: Observation, info: IdentityInfo, evidence: Evidence) -> None:
        """Acting while suspended, or for someone who is: no baseline needed to judge that."""
        registry = self.registry
        if not info.is_active and info.managed:
            evidence.add("actor-inactive", "standing", _STANDING_NATS, {"status": info.status})
            return
        for delegate_id, delegate_name in obs.delegation:
            other = registry.find(delegate_id, delegate_name)
            if other is not None and not other.is_active:
                evidence.add(
                    "owner-inactive",
                    "standing",
                    _STANDING_NATS,
                    {"owner": other.name, "status": other.status},
                )
                return
        if info.owner and info.kind == "agent":
            owner = registry.get(info.owner)
            if owner is not None and not owner.is_active:
                evidence.add(
                    "owner-inactive",
                    "standing",
                    _STANDING_NATS,
                    {"owner": owner.name, "status": owner.status},
                )

    def close_idle(self, now: float | None = None) -> list[Alert]:
        """Close the episodes idle for longer than the gap (at event time ``now``)."""
        return self.episodes.close_idle(self.clock if now is None else now)

    def close_all(self) -> list[Alert]:
        """Close every open episode (the end of a replay)."""
        return self.episodes.close_all()

    # -- feedback ------------------------------------------------------------------

    def alert(self, alert_id: str) -> Alert:
        """An alert this detector holds (the last 10,000)."""
        alert = self.episodes.held.get(alert_id)
        if alert is None:
            raise AlertNotFound(f"no alert {alert_id!r} held by this detector")
        return alert

    def mark_false_positive(
        self,
        alert: Alert | str,
        *,
        events: Iterable[Mapping[str, Any] | Observation] | None = None,
        reasons: Iterable[str] | None = None,
        identity: str | None = None,
    ) -> str:
        """Teach the detector that an alert's behaviour is normal for its identity.

        Each of the alert's events is learned as ``false_positive_weight`` ordinary
        sightings (its resources, networks, hours… become established), the rates it
        showed become ordinary, and reasons that counts cannot teach (standing, travel,
        concurrency, refusals) count a fifth for 30 days. After a restart the alert is no
        longer in memory: pass its ``events`` (documents from the log), ``reasons`` (its
        reason codes) and ``identity``. Returns the identity's key.
        """
        if isinstance(alert, str):
            held = self.episodes.held.get(alert)
            if held is None and events is None:
                raise AlertNotFound(f"no alert {alert!r} held by this detector; pass its events")
            alert_obj = held
        else:
            alert_obj = alert
        observations: list[Observation] = []
        if events is not None:
            observations = [e if isinstance(e, Observation) else observe(e) for e in events]
        elif alert_obj is not None:
            observations = list(alert_obj.observations)
        codes = set(reasons or ())
        if alert_obj is not None:
            codes.update(alert_obj.reasons)
        key = identity or (alert_obj.identity if alert_obj is not None else None)
        if key is None and observations:
            first = observations[0]
            key = self.registry.resolve(first.actor_id, first.actor_name, first.actor_kind).key
        if key is None:
            raise AlertNotFound("a false-positive mark needs the alert's identity or events")
        info = self.registry.get(key) or self.registry.resolve(key, None, "")
        baseline = self.baselines.get(key)
        if baseline is None:
            baseline = self.baselines[key] = Baseline()
        weight = self.config.false_positive_weight
        for obs in observations:
            evidence = Evidence()
            evidence.values = baseline._values(obs)
            evidence.novel = [
                bool(value) and baseline.seen[index].get(value, 0.0) < 1.0
                for index, value in enumerate(evidence.values)
            ]
            baseline.learn(
                obs,
                evidence,
                weight=weight,
                groups=info.groups,
                peers=self.peers,
                offset_hours=info.utc_offset,
            )
        if alert_obj is not None:
            rate, novel, byte_rate, day = alert_obj.peaks
            baseline.raise_peaks(rate=rate, novel=novel, byte_rate=byte_rate, day=day)
        until = max([self.clock] + [obs.ts for obs in observations]) + _ACCEPT_SECONDS
        baseline.accept(sorted(codes & _ACCEPTABLE), until=until)
        self._sessions.pop(key, None)
        self._dirty.add(key)
        return key

    # -- state ---------------------------------------------------------------------

    def baseline(self, key: str) -> Baseline | None:
        return self.baselines.get(key)

    def install(self, states: Iterable[tuple[str, Baseline]]) -> int:
        """Adopt baselines (loaded from the store) and rebuild the peer index."""
        count = 0
        for key, baseline in states:
            self.baselines[key] = baseline
            self._outside.pop(key, None)
            count += 1
        self.rebuild_peers()
        return count

    def forget(self, keys: Iterable[str]) -> None:
        """Drop these identities' baselines and open episodes (another node scores them
        now); what they established stays known to their peers."""
        for key in keys:
            baseline = self.baselines.pop(key, None)
            if baseline is not None:
                self._outside[key] = set(baseline.peer_values())
            self._sessions.pop(key, None)
            self._dirty.discard(key)
            self.episodes.forget(key)

    def add_outside(self, key: str, values: Iterable[tuple[str, str]]) -> int:
        """Values an identity scored elsewhere (by another node) has established, so its
        peers here know them too; returns how many were new."""
        if key in self.baselines:
            return 0
        info = self.registry.get(key)
        known = self._outside.setdefault(key, set())
        added = 0
        for pair in values:
            if pair not in known:
                known.add(pair)
                added += 1
                if info is not None and info.groups:
                    self.peers.add(info.groups, *pair)
        if info is not None and info.groups:
            self.peers.join(info.groups, key)
        return added

    def rebuild_peers(self) -> None:
        """Derive the peer index again from every baseline held and every value known
        from identities scored elsewhere."""
        self.peers.clear()
        members = [(key, baseline.peer_values()) for key, baseline in self.baselines.items()]
        members += [(key, list(values)) for key, values in self._outside.items()]
        for key, values in members:
            info = self.registry.get(key)
            if info is None or not info.groups:
                continue
            self.peers.join(info.groups, key)
            for dim, value in values:
                self.peers.add(info.groups, dim, value)

    def take_dirty(self) -> set[str]:
        """The keys whose baselines changed since the last call (what to save)."""
        dirty, self._dirty = self._dirty, set()
        return dirty


_MACHINES: Final = frozenset({"agent", "service"})
_LIFECYCLE: Final = frozenset(
    {"identity.suspend", "identity.reactivate", "identity.deprovision", "identity.delete"}
)
