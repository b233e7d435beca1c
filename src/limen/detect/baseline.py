"""One identity's learned behaviour, and how surprising a new event is against it.

Everything here is per identity, online and bounded:

- **What it uses** — resources (with a first-use rate per resource kind, so an agent that
  opens new files all day is still surprising when it opens a new database), resource
  kinds, actions, tools, tool *sequences* (the step before → this step), networks (/24),
  provider AS, countries, user agents and their version-less family. Each keeps its
  values with a weight (a value counts as established at weight 1) and a first-use rate
  ``p_new``; a first use is worth ``-ln p_new`` nats of surprise, so an exploratory
  identity pays little for novelty and a narrow machine pays a lot.
- **When** — a 48-bin histogram (hour of day by weekday/weekend, in the identity's home
  time). When the event comes from another country, the hour is also read in that
  country's time and the less surprising reading counts: people travel and keep their
  local working day.
- **How much** — decayed rates (events per minute, bytes per five minutes, bytes per day,
  first-time resources per five minutes) against the highest rate it has shown, which
  itself fades over weeks; the size of one transfer against its usual sizes.
- **How often refused** — the last 16 outcomes against its long-run refusal rate
  (binomial tail).
- **From where at once** — another provider or client used minutes before, against how
  often it does that; two countries further apart than a flight could cover in between.

Evidence is grouped (what it does and to what, where, device, when, volume, …) and each
group is capped, so correlated signals (a new country is also a new network; a new tool
is also a new sequence and often a new kind of resource) count once, while
independent ones add up: a new country alone is travel, a new country at 3 a.m. with a new
client is not. Learning is damped by the event's own score: an event that raised an alert
teaches nothing until a person marks the alert a false positive.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

from limen.detect import geography

if TYPE_CHECKING:
    from limen.detect.observation import Observation
    from limen.detect.peers import PeerIndex

__all__ = ["DIMENSIONS", "GROUP_CAPS", "MACHINE_CAPS", "Baseline", "Evidence"]

# Dimensions of "what it uses": name, cap on values kept, evidence group.
DIMENSIONS: Final[tuple[tuple[str, int, str], ...]] = (
    ("res", 192, "target"),
    ("rtype", 24, "target"),
    ("act", 48, "target"),
    ("step", 48, "target"),
    ("seq", 160, "target"),
    ("net", 24, "location"),
    ("asn", 12, "location"),
    ("cty", 12, "location"),
    ("ua", 12, "device"),
    ("uaf", 8, "device"),
)
_RES, _RTYPE, _ACT, _STEP, _SEQ, _NET, _ASN, _CTY, _UA, _UAF = range(len(DIMENSIONS))
_NEW_CODE: Final = (
    "new-resource",
    "new-resource-kind",
    "new-action",
    "new-tool",
    "new-tool-sequence",
    "new-network",
    "new-asn",
    "new-country",
    "new-user-agent",
    "new-device",
)
# How much a first use in each dimension weighs against the others: a new client
# version is mostly an upgrade, a new kind of client a new device.
_DIM_WEIGHT: Final = (1.0, 1.0, 0.8, 0.9, 0.8, 0.7, 0.9, 1.0, 0.35, 1.0)
# First uses more common than this (p_new > e^-1.2 ≈ 30 %) are no evidence at all; for
# resources the floor is lower (e^-0.7 ≈ 50 %): what an identity touches is the most
# specific thing it does.
_NOVELTY_FLOOR: Final = 1.2
_RESOURCE_FLOOR: Final = 0.7
# Peer support: how much of a first use's surprise remains when a peer already uses it
# (its owner's circle, its team or class, anyone in the organisation) …
_PEER_DISCOUNT: Final = {"owner": 0.25, "team": 0.45, "class": 0.45, "org": 0.8}
# In a team or class the discount grows with the share of the other members that use the
# value, full from this share on: one agent's habit in a class of twenty says little
# about what is ordinary for the other nineteen.
_PEER_SHARE_FULL: Final = 0.25
_SHARED_GROUPS: Final = frozenset({"team", "class"})
# … and how much more it weighs when nobody in the organisation ever established it.
_UNSHARED: Final = 1.3
# After a client upgrade (a new version of a known client), new tools are expected.
_UPGRADE_WINDOW: Final = 3 * 86400.0
_UPGRADE_DISCOUNT: Final = 0.5
# A lone first use recurring on this many days becomes normal (see _habituate).
_HABIT_DAYS: Final = 3
_HABIT_LIMIT: Final = 64
# Nats of first-use surprise at which a value teaches nothing (at least a tenth).
_SLOW_LEARNING: Final = 4.0
# A resource whose first use was surprising (at least _FRESH_NATS), used again within
# this long, is one run of work, not a recurrence: it stays short of established, so the
# queries that follow a first query to a database are still read as new (with the volume
# they move), and only its return later makes it normal.
_FRESH_SECONDS: Final = 3600.0
_FRESH_CAP: Final = 0.9
_FRESH_LIMIT: Final = 16
_FRESH_NATS: Final = 2.0
# A machine has moved once it worked only from a new place for this many events and
# seconds, and for this many of its usual gaps between events (a machine that works a few
# sessions a day is silent for hours without having moved), yet at most this long.
_RELOCATION_EVENTS: Final = 8
_RELOCATION_SECONDS: Final = 600.0
_RELOCATION_GAPS: Final = 3.0
_RELOCATION_MAX_SECONDS: Final = 4 * 3600.0
_GAP_WEIGHT: Final = 0.02
# Uses of a resource kind before its own first-use rate replaces the organisation's.
_KIND_HISTORY: Final = 20.0
# Sequences restart after this much idle time.
_SEQ_GAP: Final = 1800.0
_ESTABLISHED: Final = 1.0
# Counts past this are halved, so the first-use rate follows the last few thousand events.
_AGE_AT: Final = 4000.0

_LN2: Final = math.log(2)
_RATE_HALF_LIFE: Final = 60.0
_WINDOW_HALF_LIFE: Final = 300.0
_DAY_HALF_LIFE: Final = 86400.0
_PEAK_HALF_LIFE: Final = 21 * 86400.0
_FOOTPRINT_WINDOW: Final = 600.0
# A machine has one place: a new one used in turn with its usual one within hours is a
# second party, where a person switching devices over hours is not.
_MACHINE_FOOTPRINT_WINDOW: Final = 6 * 3600.0
_RECENT_GAP: Final = 1800.0
_WEEKDAY_SHARE: Final = 5 / 7 / 24
_WEEKEND_SHARE: Final = 2 / 7 / 24
_HOUR_PRIOR: Final = 0.2
# Travel: the fastest plausible trip is a flight at 950 km/h plus an hour on the ground.
_FLIGHT_KMH: Final = 950.0
_GROUND_HOURS: Final = 1.0
_TRAVEL_MIN_KM: Final = 800.0
# Before this many learned events (or a day of history) rates and hours say little.
_MATURE_EVENTS: Final = 50.0
_MATURE_SECONDS: Final = 86400.0

GROUP_CAPS: Final[dict[str, float]] = {
    "target": 7.0,
    "location": 4.0,
    "device": 3.0,
    "time": 3.0,
    "volume": 4.0,
    "concurrency": 3.0,
    "refusals": 8.0,
    "travel": 8.0,
    "standing": 9.0,
    "scrape": 7.0,
    "episode": 20.0,
}
MACHINE_CAPS: Final[dict[str, float]] = {**GROUP_CAPS, "location": 7.0}
"""Caps for agents and services: a machine's network is part of what it is, while people
move (travel, home, phone). The cap leaves room for two facts: a new network at a provider
the machine already uses (a move inside its cloud) stays near the threshold, a new network
at a provider it never used (its credential used from elsewhere) goes above it. A
machine's whole group moving together (a migration) is peer-supported and costs little."""
_GROUP_OF: Final = {name: group for name, _, group in DIMENSIONS}
# Each group but the strongest, when two or more carry at least this many nats, counts
# this much more (see Evidence.combine).
_CORROBORATING: Final = 2.0
_CORROBORATION: Final = 0.5
# Groups that follow from another (concurrency and travel from a new place, an alerted
# session from the alert) corroborate nothing.
_DERIVED: Final = frozenset({"concurrency", "travel", "episode"})
# Within a group the strongest signal counts fully and the others by this share.
_GROUP_REST: Final = {"target": 0.5, "location": 0.5, "device": 0.0, "volume": 0.5}


class Evidence:
    """The evidence one event produced: per-group totals and the reasons behind them."""

    __slots__ = ("items", "novel", "surprising", "total", "values")

    def __init__(self) -> None:
        self.values: tuple[str, ...] = ()
        # Dimensions whose first use was evidence (not routine), and how much: what
        # peers are told of, and what is learned more slowly.
        self.surprising: dict[int, float] = {}
        # (code, group, nats, facts)
        self.items: list[tuple[str, str, float, dict[str, Any]]] = []
        self.novel: list[bool] = [False] * len(DIMENSIONS)
        self.total = 0.0

    def add(self, code: str, group: str, nats: float, facts: dict[str, Any]) -> None:
        if nats > 0.0:
            self.items.append((code, group, nats, facts))

    def combine(
        self, accepted: dict[str, float], now: float, *, caps: dict[str, float] = GROUP_CAPS
    ) -> float:
        """Sum the capped groups; reasons a person accepted count a fifth."""
        groups: dict[str, list[float]] = {}
        for index, (code, group, nats, facts) in enumerate(self.items):
            until = accepted.get(code)
            if until is not None and until >= now:
                nats *= 0.2
                self.items[index] = (code, group, nats, facts)
            groups.setdefault(group, []).append(nats)
        total = 0.0
        lines: list[float] = []
        for group, values in groups.items():
            top = max(values)
            rest = _GROUP_REST.get(group, 1.0)
            value = min(caps[group], top + rest * (sum(values) - top) if len(values) > 1 else top)
            total += value
            if value >= _CORROBORATING and group not in _DERIVED:
                lines.append(value)
        if len(lines) > 1:
            # Independent lines of evidence corroborate each other: a benign surprise
            # tends to be one change (a new tool, a new place), an intrusion several.
            total += _CORROBORATION * (sum(lines) - max(lines))
        self.total = total
        return total


class Baseline:
    """The learned behaviour of one identity (compact; see :meth:`to_state`)."""

    __slots__ = (
        "accepted",
        "byte_peak",
        "byte_rate",
        "clock",
        "concurrent",
        "concurrent_n",
        "day_bytes",
        "day_peak",
        "first_ts",
        "footprints",
        "fresh",
        "gap",
        "habits",
        "home_country",
        "hours",
        "last_ts",
        "lb_mean",
        "lb_n",
        "lb_var",
        "n",
        "novel",
        "novel_peak",
        "novel_rate",
        "novel_res",
        "outcomes",
        "pending",
        "pending_clean",
        "pending_hour",
        "prev_ts",
        "rate",
        "rate_peak",
        "recent",
        "recent_n",
        "recent_ts",
        "refused",
        "relocation",
        "seen",
        "settled_country",
        "settled_ts",
        "steps",
        "travel_hits",
        "travel_n",
        "upgrade_ts",
    )

    def __init__(self) -> None:
        self.n = 0.0
        self.first_ts = 0.0
        self.last_ts = 0.0
        self.seen: list[dict[str, float]] = [{} for _ in DIMENSIONS]
        self.novel: list[list[float]] = [[0.0, 0.0] for _ in DIMENSIONS]
        self.novel_res: dict[str, list[float]] = {}
        self.hours: list[float] = [0.0] * 48
        self.prev_ts = 0.0
        # The last step of each recent session (or network and client, without one):
        # a sequence is read within one stream, so an intruder's steps do not break the
        # real owner's.
        self.steps: dict[str, list[Any]] = {}
        self.clock = 0.0
        self.rate = 0.0
        self.rate_peak = 0.0
        self.novel_rate = 0.0
        self.novel_peak = 0.0
        self.byte_rate = 0.0
        self.byte_peak = 0.0
        self.day_bytes = 0.0
        self.day_peak = 0.0
        self.lb_n = 0.0
        self.lb_mean = 0.0
        self.lb_var = 0.0
        self.refused = 0.0
        self.outcomes = 0.0
        self.recent = 0
        self.recent_n = 0
        self.recent_ts = 0.0
        self.concurrent = 0.0
        self.concurrent_n = 0.0
        self.footprints: dict[str, float] = {}
        self.travel_hits = 0.0
        self.travel_n = 0.0
        self.home_country = ""
        self.settled_country = ""
        self.settled_ts = 0.0
        self.accepted: dict[str, float] = {}
        # Rates seen this hour by learned events; they become peaks when the hour ends
        # clean, so a burst can never excuse itself while it grows.
        self.pending: list[float] = [0.0, 0.0, 0.0, 0.0]
        self.pending_hour = 0
        self.pending_clean = True
        self.upgrade_ts = 0.0
        # First uses that keep recurring on their own: "dim\x1fvalue" -> [last day, days].
        self.habits: dict[str, list[int]] = {}
        # Surprising first uses of the last hour: "dim\x1fvalue" -> time of the first.
        self.fresh: dict[str, float] = {}
        # A machine seen only from one new place for a while has moved: [place, since, n].
        self.relocation: list[Any] = ["", 0.0, 0]
        # The usual time between two of its events (a decayed mean, seconds).
        self.gap = 0.0

    # -- scoring -------------------------------------------------------------------

    def assess(
        self,
        obs: Observation,
        *,
        groups: tuple[str, ...],
        peers: PeerIndex,
        offset_hours: float,
        member: str = "",
        machine: bool = False,
    ) -> Evidence:
        """Evidence that ``obs`` is unlike this identity; moves the present-time trackers.

        Rates, the previous step, recent outcomes and footprints describe *now* and move
        with every event; what is learned (:meth:`learn`) moves only as the score allows.
        """
        evidence = Evidence()
        ts = obs.ts
        mature = self.n >= _MATURE_EVENTS and ts - self.first_ts >= _MATURE_SECONDS
        values = evidence.values = self._values(obs)
        novel = evidence.novel
        seen = self.seen
        upgraded = (bool(self.upgrade_ts) and ts - self.upgrade_ts <= _UPGRADE_WINDOW) or (
            # This very event comes from a new version of a client it knows.
            bool(obs.ua)
            and seen[_UA].get(obs.ua, 0.0) < _ESTABLISHED
            and seen[_UAF].get(obs.ua_family, 0.0) >= _ESTABLISHED
        )
        # How unexpected this event's first use of a resource is (0 when none): what the
        # burst tracker counts.
        unexpected = 0.0
        for index, value in enumerate(values):
            if not value:
                continue
            if seen[index].get(value, 0.0) >= _ESTABLISHED:
                continue
            novel[index] = True
            floor = _NOVELTY_FLOOR
            if index == _RES:
                # A resource of a kind it hardly used is judged by how often resources of
                # that kind are new to anyone: a new file is common, a new database is not.
                counts = self.novel_res.get(obs.resource_type)
                if counts is None or counts[0] < _KIND_HISTORY:
                    counts = peers.kind_novelty(obs.resource_type) or self.novel[_RES]
                floor = _RESOURCE_FLOOR
                unexpected = 1.0 - (counts[1] + 1.0) / (counts[0] + 2.0)
            else:
                counts = self.novel[index]
            n, new = counts
            surprise = -math.log((new + 1.0) / (n + 2.0)) - floor
            if surprise <= 0.0:
                continue
            surprise *= _DIM_WEIGHT[index]
            if upgraded and (
                index in (_STEP, _SEQ, _RTYPE)
                # A new version's new tools reach new kinds of things.
                or (index == _RES and seen[_RTYPE].get(obs.resource_type, 0.0) < _ESTABLISHED)
            ):
                surprise *= _UPGRADE_DISCOUNT
            name = DIMENSIONS[index][0]
            support = peers.support(groups, name, value, member=member, ts=ts) if groups else None
            facts: dict[str, Any] = {"value": value}
            if support is not None:
                group, count = support
                kind = group.split(":", 1)[0]
                size = peers.size(group)
                surprise *= _peer_discount(kind, count, size)
                if kind != "org":
                    facts["peer_group"] = group
                    facts["peer_count"] = count
                    if size > 2 and kind in _SHARED_GROUPS:
                        facts["peer_others"] = size - 1
            elif groups:
                surprise *= _UNSHARED
            if index == _RES:
                facts["action"] = obs.action
                facts["type"] = obs.resource_type
                facts["distinct"] = sum(
                    1 for key in seen[_RES] if key.startswith(obs.resource_type + ":")
                )
                facts["seen"] = n
            elif index == _ACT:
                facts["seen"] = n
            evidence.add(_NEW_CODE[index], _GROUP_OF[name], surprise, facts)
            evidence.surprising[index] = surprise

        if machine:
            self._follow_relocation(obs, evidence)
        self._move_trackers(obs, unexpected if obs.resource else 0.0)
        if mature:
            self._assess_time(obs, evidence, offset_hours)
            self._assess_volume(obs, evidence)
        self._assess_refusals(obs, evidence)
        self._assess_whereabouts(
            obs, evidence, novel, window=_MACHINE_FOOTPRINT_WINDOW if machine else _FOOTPRINT_WINDOW
        )
        return evidence

    def _follow_relocation(self, obs: Observation, evidence: Evidence) -> None:
        """Discount a new place once a machine has worked only from there for a while.

        A migration moves all of a machine's traffic and the old place falls silent; an
        intruder's traffic runs beside the real one, and each event from an established
        place starts the count again.
        """
        novel = evidence.novel
        relocation = self.relocation
        if not (novel[_NET] or novel[_ASN]):
            if obs.net or obs.asn:
                relocation[0], relocation[2] = "", 0
            return
        place = f"{obs.asn}|{obs.net}"
        if relocation[0] != place:
            relocation[0], relocation[1], relocation[2] = place, obs.ts, 0
        relocation[2] += 1
        settle = min(_RELOCATION_MAX_SECONDS, max(_RELOCATION_SECONDS, _RELOCATION_GAPS * self.gap))
        if relocation[2] >= _RELOCATION_EVENTS and obs.ts - relocation[1] >= settle:
            items = evidence.items
            for index, (code, group, nats, facts) in enumerate(items):
                if group == "location":
                    items[index] = (code, group, nats * 0.2, facts)

    def _values(self, obs: Observation) -> tuple[str, ...]:
        step = obs.step
        previous = self.steps.get(_stream(obs))
        if previous is not None and obs.ts - previous[1] <= _SEQ_GAP:
            seq = f"{previous[0]}>{step}"
        else:
            seq = f"^>{step}"
        return (
            obs.resource,
            obs.resource_type,
            obs.action,
            step,
            seq,
            obs.net,
            obs.asn,
            obs.country,
            obs.ua,
            obs.ua_family,
        )

    def _move_trackers(self, obs: Observation, unexpected: float) -> None:
        ts = obs.ts
        dt = ts - self.clock if self.clock else 0.0
        if dt < 0.0:
            dt = 0.0
        if dt:
            self.rate *= math.exp(-dt * _LN2 / _RATE_HALF_LIFE)
            window = math.exp(-dt * _LN2 / _WINDOW_HALF_LIFE)
            self.novel_rate *= window
            self.byte_rate *= window
            self.day_bytes *= math.exp(-dt * _LN2 / _DAY_HALF_LIFE)
        if self.clock:
            self.gap += _GAP_WEIGHT * (min(dt, _DAY_HALF_LIFE) - self.gap)
        self.clock = ts
        self.rate += 1.0
        # A first use counts as much as it was unlikely: an identity whose work is new
        # all day (fresh tickets, new pages) keeps a low burst peak, so a run of first
        # uses of a kind it rarely meets new (secrets, databases) still stands out.
        self.novel_rate += unexpected
        nbytes = obs.nbytes
        if nbytes:
            self.byte_rate += nbytes
            self.day_bytes += nbytes
        if ts - self.recent_ts > _RECENT_GAP:
            self.recent = 0
            self.recent_n = 0
        self.recent = ((self.recent << 1) | (1 if obs.outcome == "denied" else 0)) & 0xFFFF
        self.recent_n = min(16, self.recent_n + 1)
        self.recent_ts = ts

    def _assess_time(self, obs: Observation, evidence: Evidence, offset_hours: float) -> None:
        share, bin_ = self._hour_share(obs.ts, offset_hours)
        if obs.country and self.home_country and obs.country != self.home_country:
            here = geography.utc_offset(obs.country)
            home = geography.utc_offset(self.home_country)
            if here is not None and home is not None:
                # Read the hour as if the person kept their working day where they are.
                shifted, _ = self._hour_share(obs.ts + (here - home) * 3600.0, offset_hours)
                share = max(share, shifted)
        surprise = -math.log(share) - 1.5
        if surprise > 0.0:
            confidence = min(1.0, self.n / 300.0)
            evidence.add(
                "unusual-hour",
                "time",
                surprise * confidence,
                {"ts": obs.ts, "share": share * (_WEEKDAY_SHARE if bin_ < 24 else _WEEKEND_SHARE)},
            )

    def _hour_share(self, ts: float, offset_hours: float) -> tuple[float, int]:
        """P(bin) relative to a uniform week, smoothed over neighbouring hours."""
        local = ts / 3600.0 + offset_hours
        hour = int(local) % 24
        weekday = (int(local // 24) + 3) % 7  # 1970-01-01 was a Thursday
        base = 24 if weekday >= 5 else 0
        hours = self.hours
        count = (
            hours[base + hour]
            + 0.5 * hours[base + (hour - 1) % 24]
            + 0.5 * hours[base + (hour + 1) % 24]
        )
        probability = (count + _HOUR_PRIOR) / (2.0 * self.n + 48 * _HOUR_PRIOR)
        uniform = _WEEKEND_SHARE if base else _WEEKDAY_SHARE
        return probability / uniform, base + hour

    def _assess_volume(self, obs: Observation, evidence: Evidence) -> None:
        rate = self.rate
        limit = 1.5 * self.rate_peak + 3.0
        if rate > limit:
            evidence.add(
                "event-burst",
                "volume",
                1.5 * math.log2(rate / limit),
                {"rate": rate, "peak": self.rate_peak},
            )
        if self.novel_rate > 2.0:
            limit = 1.5 * self.novel_peak + 2.0
            if self.novel_rate > limit:
                evidence.add(
                    "novel-burst",
                    "scrape",
                    2.0 * math.log2(self.novel_rate / limit),
                    {"count": self.novel_rate, "peak": self.novel_peak},
                )
        nbytes = obs.nbytes
        if nbytes:
            limit = 2.0 * self.byte_peak + 1024.0
            if self.byte_rate > limit:
                evidence.add(
                    "byte-burst",
                    "volume",
                    1.5 * math.log2(self.byte_rate / limit),
                    {"bytes": self.byte_rate, "peak": self.byte_peak},
                )
            limit = 1.5 * self.day_peak + 1024.0
            if self.day_bytes > limit:
                evidence.add(
                    "daily-egress",
                    "volume",
                    2.0 * math.log2(self.day_bytes / limit),
                    {"bytes": self.day_bytes, "peak": self.day_peak},
                )
            if self.lb_n >= 20:
                spread = math.sqrt(self.lb_var + 0.25)
                z = (math.log1p(nbytes) - self.lb_mean) / spread
                if z > 3.0:
                    evidence.add(
                        "large-transfer",
                        "volume",
                        0.8 * (z - 3.0),
                        {"bytes": nbytes, "usual": math.expm1(self.lb_mean)},
                    )

    def _assess_refusals(self, obs: Observation, evidence: Evidence) -> None:
        refused = self.recent.bit_count()
        if refused < 3:
            return
        recent = self.recent_n
        rate = (self.refused + 0.2) / (self.outcomes + 20.0)
        tail = _binomial_tail(refused, recent, rate)
        surprise = -math.log(max(tail, 1e-300)) - 3.0
        if surprise > 0.0:
            if obs.outcome != "denied":
                surprise *= 0.5
            evidence.add(
                "refusals",
                "refusals",
                surprise,
                {"refused": refused, "recent": recent, "rate": rate},
            )

    def _assess_whereabouts(
        self, obs: Observation, evidence: Evidence, novel: list[bool], *, window: float
    ) -> None:
        ts = obs.ts
        # Impossible travel: judged against the last event from a country it knows, so an
        # intruder abroad keeps looking impossible while the real owner works at home.
        country = obs.country
        if country and novel[_CTY] and self.settled_country and country != self.settled_country:
            km = geography.distance_km(self.settled_country, country)
            if km is not None and km >= _TRAVEL_MIN_KM:
                hours = max(ts - self.settled_ts, 0.0) / 3600.0
                needed = km / _FLIGHT_KMH + _GROUND_HOURS
                if hours < needed:
                    nats = 4.0 + 2.0 * math.log2(needed / max(hours, needed / 16))
                    habit = (self.travel_hits + 0.2) / (self.travel_n + 20.0)
                    if habit > 0.05:
                        nats *= 0.3
                    evidence.add(
                        "impossible-travel",
                        "travel",
                        nats,
                        {
                            "from": self.settled_country,
                            "to": country,
                            "km": km,
                            "minutes": hours * 60,
                        },
                    )
        # Concurrent access from an unfamiliar provider or client.
        footprint = f"{obs.asn or obs.net}|{obs.ua_family}"
        if footprint != "|":
            unfamiliar = novel[_ASN] or novel[_NET] or novel[_UAF]
            if unfamiliar:
                other = self._interleaved(footprint, ts, window)
                if other is not None:
                    habit = (self.concurrent + 0.5) / (self.concurrent_n + 10.0)
                    nats = -math.log(habit) - 1.5
                    evidence.add(
                        "concurrent-access",
                        "concurrency",
                        nats,
                        {"other": other[0].replace("|", " / "), "minutes": (ts - other[1]) / 60},
                    )

    def _interleaved(
        self, footprint: str, ts: float, window: float = _FOOTPRINT_WINDOW
    ) -> tuple[str, float] | None:
        """Another place or client used between this one's last use and now, within minutes.

        Interleaving (A, B, A) is two parties at once; a switch (A, A, B, B) is someone
        moving, so the first use of a new place is never "concurrent" by itself.
        """
        prints = self.footprints
        mine = prints.get(footprint)
        if mine is None or ts - mine > window:
            return None
        for other, last in prints.items():
            if other != footprint and last > mine:
                return other, last
        return None

    # -- learning ------------------------------------------------------------------

    def learn(
        self,
        obs: Observation,
        evidence: Evidence,
        *,
        weight: float,
        groups: tuple[str, ...],
        peers: PeerIndex,
        offset_hours: float,
        member: str = "",
    ) -> None:
        """Make ``obs`` part of normal by ``weight`` (0: learn nothing, 1: fully)."""
        ts = obs.ts
        footprint = f"{obs.asn or obs.net}|{obs.ua_family}"
        concurrent = self._interleaved(footprint, ts) is not None
        self._remember_present(obs, footprint)
        self._fold_peaks(ts, clean=weight >= 0.5)
        novel = evidence.novel
        if novel[_UA] and not novel[_UAF] and evidence.values[_UA]:
            self.upgrade_ts = ts
        if evidence.surprising:
            values = evidence.values
            if groups and member:
                for index in evidence.surprising:
                    peers.sight(groups, DIMENSIONS[index][0], values[index], member=member, ts=ts)
            self._habituate(evidence, ts, groups=groups, peers=peers)
            self._note_fresh(evidence, ts)
        if weight <= 0.0:
            return
        if not self.n:
            self.first_ts = ts
        self.n += weight
        self.last_ts = ts
        values = evidence.values
        bursting = 1.5 * self.novel_peak + 2.0
        seen = self.seen
        novel_counts = self.novel
        for index, value in enumerate(values):
            if not value:
                continue
            table = seen[index]
            before = table.get(value, 0.0)
            if before >= _ESTABLISHED and index:
                # The common case, kept short: a known value of any dimension but resources.
                after = before + weight
                table[value] = after
                counts = novel_counts[index]
                counts[0] += weight
                if counts[0] > _AGE_AT:
                    counts[0] *= 0.5
                    counts[1] *= 0.5
                if (
                    index == _CTY
                    and value != self.home_country
                    and after > table.get(self.home_country, 0.0)
                ):
                    self.home_country = value
                continue
            # Only a value's very first sighting counts as a first use: a value still
            # being learned must not make first uses look common.
            first = before == 0.0
            if index == _RES:
                # First uses in a burst of them count as one: a scrape must not teach
                # that new resources are common.
                first_weight = weight if self.novel_rate <= bursting else weight * 0.1
                overall = self.novel[_RES]
                overall[0] += weight
                if first:
                    overall[1] += first_weight
                if overall[0] > _AGE_AT:
                    overall[0] *= 0.5
                    overall[1] *= 0.5
                counts = self.novel_res.get(obs.resource_type)
                if counts is None:
                    counts = self.novel_res[obs.resource_type] = [0.0, 0.0]
                peers.count_kind(obs.resource_type, first=first, weight=weight)
            else:
                counts = self.novel[index]
                first_weight = weight
            counts[0] += weight
            if first:
                counts[1] += first_weight
            if counts[0] > _AGE_AT:
                counts[0] *= 0.5
                counts[1] *= 0.5
            surprise = evidence.surprising.get(index)
            if surprise is None:
                after = before + weight
            else:
                # A surprising first use teaches less: it must recur to become normal.
                after = before + weight * max(0.1, 1.0 - surprise / _SLOW_LEARNING)
                if after >= _ESTABLISHED:
                    first_seen = self.fresh.get(f"{index}\x1f{value}")
                    if first_seen is not None and ts - first_seen < _FRESH_SECONDS:
                        after = min(after, _FRESH_CAP)
            table[value] = after
            if before < _ESTABLISHED <= after:
                if groups:
                    peers.add(groups, DIMENSIONS[index][0], value)
                if index == _CTY and (
                    not self.home_country or after > table.get(self.home_country, 0.0)
                ):
                    self.home_country = value
            elif (
                index == _CTY
                and value != self.home_country
                and after > table.get(self.home_country, 0.0)
            ):
                self.home_country = value
            cap = DIMENSIONS[index][1]
            if len(table) > cap:
                _evict(table, cap)
        local = ts / 3600.0 + offset_hours
        weekday = (int(local // 24) + 3) % 7
        self.hours[(24 if weekday >= 5 else 0) + int(local) % 24] += weight
        if self.n > _AGE_AT:
            self._age()
        if obs.nbytes:
            x = math.log1p(obs.nbytes)
            self.lb_n += weight
            alpha = weight / self.lb_n if self.lb_n < 200 else weight / 200
            delta = x - self.lb_mean
            self.lb_mean += alpha * delta
            self.lb_var = (1 - alpha) * (self.lb_var + alpha * delta * delta)
        self.outcomes += weight
        if obs.outcome == "denied":
            self.refused += weight
        if self.outcomes > _AGE_AT:
            self.outcomes *= 0.5
            self.refused *= 0.5
        self.concurrent_n += weight
        if concurrent:
            self.concurrent += weight
        if obs.country:
            if self.settled_country and obs.country != self.settled_country:
                self.travel_n += weight
                if any(code == "impossible-travel" for code, *_ in evidence.items):
                    self.travel_hits += weight
            if not novel[_CTY] or weight >= 0.5:
                self.settled_country = obs.country
                self.settled_ts = ts

    def _note_fresh(self, evidence: Evidence, ts: float) -> None:
        """Remember when a surprising resource was first used (see _FRESH_SECONDS)."""
        surprise = evidence.surprising.get(_RES)
        if surprise is None or surprise < _FRESH_NATS:
            return
        fresh = self.fresh
        key = f"{_RES}\x1f{evidence.values[_RES]}"
        if key in fresh:
            return
        if len(fresh) >= _FRESH_LIMIT:
            for old in [k for k, first in fresh.items() if ts - first >= _FRESH_SECONDS]:
                del fresh[old]
            if len(fresh) >= _FRESH_LIMIT:
                del fresh[min(fresh, key=fresh.__getitem__)]
        fresh[key] = ts

    def _habituate(
        self, evidence: Evidence, ts: float, *, groups: tuple[str, ...], peers: PeerIndex
    ) -> None:
        """Make a first use normal once it recurred, alone, on several days.

        A lone surprise (nothing else about the event was unusual) that keeps coming back
        day after day is a new habit — a monthly report, a new tool in a workflow — and
        would otherwise alert for ever. An intruder's first uses come with other
        evidence (volume, place, hour, refusals…) or stop within a day.
        """
        groups_seen = {group for _, group, _, _ in evidence.items}
        if len(groups_seen) != 1:
            return
        day = int(ts // 86400)
        values = evidence.values
        habits = self.habits
        for index in evidence.surprising:
            key = f"{index}\x1f{values[index]}"
            habit = habits.get(key)
            if habit is None:
                if len(habits) >= _HABIT_LIMIT:
                    del habits[min(habits, key=lambda k: habits[k][0])]
                habit = habits[key] = [day, 1]
            elif habit[0] != day:
                habit[0] = day
                habit[1] += 1
            if habit[1] >= _HABIT_DAYS:
                del habits[key]
                table = self.seen[index]
                if table.get(values[index], 0.0) < _ESTABLISHED:
                    table[values[index]] = _ESTABLISHED
                    if groups:
                        peers.add(groups, DIMENSIONS[index][0], values[index])

    def _fold_peaks(self, ts: float, *, clean: bool) -> None:
        """Track this hour's rates; when the hour ends clean, they may raise the peaks.

        Peaks fade over weeks, so last quarter's batch job does not excuse today's burst.
        """
        hour = int(ts // 3600)
        if hour != self.pending_hour:
            if self.pending_clean and self.pending_hour:
                fade = math.exp(-(hour - self.pending_hour) * 3600.0 * _LN2 / _PEAK_HALF_LIFE)
                pending = self.pending
                self.rate_peak = max(self.rate_peak * fade, pending[0])
                self.novel_peak = max(self.novel_peak * fade, pending[1])
                self.byte_peak = max(self.byte_peak * fade, pending[2])
                self.day_peak = max(self.day_peak * fade, pending[3])
            self.pending = [0.0, 0.0, 0.0, 0.0]
            self.pending_hour = hour
            self.pending_clean = True
        if not clean:
            self.pending_clean = False
            return
        pending = self.pending
        if self.rate > pending[0]:
            pending[0] = self.rate
        if self.novel_rate > pending[1]:
            pending[1] = self.novel_rate
        if self.byte_rate > pending[2]:
            pending[2] = self.byte_rate
        if self.day_bytes > pending[3]:
            pending[3] = self.day_bytes

    def _remember_present(self, obs: Observation, footprint: str) -> None:
        """What describes now, learned or not: the last step, where it acts from."""
        self.prev_ts = obs.ts
        steps = self.steps
        steps[_stream(obs)] = [obs.step, obs.ts]
        if len(steps) > 4:
            del steps[min(steps, key=lambda k: steps[k][1])]
        if footprint != "|":
            prints = self.footprints
            prints[footprint] = obs.ts
            if len(prints) > 8:
                del prints[min(prints, key=prints.__getitem__)]
        if obs.country and obs.country == self.settled_country:
            self.settled_ts = obs.ts

    def _age(self) -> None:
        self.n *= 0.5
        self.hours = [value * 0.5 for value in self.hours]

    def accept(self, codes: list[str], *, until: float) -> None:
        """Count these reasons a fifth until ``until`` (a false-positive mark)."""
        for code in codes:
            self.accepted[code] = max(self.accepted.get(code, 0.0), until)
        expired = [code for code, end in self.accepted.items() if end < self.last_ts]
        for code in expired:
            del self.accepted[code]

    def raise_peaks(self, *, rate: float, novel: float, byte_rate: float, day: float) -> None:
        """Make the rates an alert showed ordinary (a false-positive mark)."""
        self.rate_peak = max(self.rate_peak, rate)
        self.novel_peak = max(self.novel_peak, novel)
        self.byte_peak = max(self.byte_peak, byte_rate)
        self.day_peak = max(self.day_peak, day)

    def established(self, dim: str) -> list[str]:
        """The values of one dimension this identity has established."""
        index = [name for name, _, _ in DIMENSIONS].index(dim)
        return [value for value, weight in self.seen[index].items() if weight >= _ESTABLISHED]

    # -- state ---------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-ready document of everything learned and the present-time trackers."""
        return {
            "v": 1,
            "n": self.n,
            "t": [self.first_ts, self.last_ts, self.clock, self.prev_ts, self.recent_ts],
            "seen": [_rounded(table) for table in self.seen],
            "novel": self.novel,
            "novel_res": self.novel_res,
            "hours": [round(h, 3) for h in self.hours],
            "steps": self.steps,
            "rates": [
                self.rate,
                self.rate_peak,
                self.novel_rate,
                self.novel_peak,
                self.byte_rate,
                self.byte_peak,
                self.day_bytes,
                self.day_peak,
            ],
            "bytes": [self.lb_n, self.lb_mean, self.lb_var],
            "outcomes": [self.refused, self.outcomes, self.recent, self.recent_n],
            "concurrent": [self.concurrent, self.concurrent_n],
            "prints": self.footprints,
            "travel": [self.travel_hits, self.travel_n],
            "places": [self.home_country, self.settled_country, self.settled_ts],
            "accepted": self.accepted,
            "pending": [*self.pending, self.pending_hour, int(self.pending_clean)],
            "upgrade": self.upgrade_ts,
            "relocation": self.relocation,
            "habits": self.habits,
            "fresh": self.fresh,
            "gap": self.gap,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Baseline:
        """The inverse of :meth:`to_state`; raises ``KeyError``/``ValueError`` if malformed."""
        if state.get("v") != 1:
            raise ValueError(f"unknown baseline version {state.get('v')!r}")
        baseline = cls()
        baseline.n = float(state["n"])
        (
            baseline.first_ts,
            baseline.last_ts,
            baseline.clock,
            baseline.prev_ts,
            baseline.recent_ts,
        ) = (float(x) for x in state["t"])
        seen = state["seen"]
        if len(seen) != len(DIMENSIONS):
            raise ValueError("baseline has the wrong number of dimensions")
        baseline.seen = [{str(k): float(v) for k, v in table.items()} for table in seen]
        baseline.novel = [[float(a), float(b)] for a, b in state["novel"]]
        baseline.novel_res = {
            str(k): [float(a), float(b)] for k, (a, b) in state["novel_res"].items()
        }
        baseline.hours = [float(h) for h in state["hours"]]
        if len(baseline.hours) != 48:
            raise ValueError("baseline hour histogram must have 48 bins")
        baseline.steps = {str(k): [str(step), float(t)] for k, (step, t) in state["steps"].items()}
        (
            baseline.rate,
            baseline.rate_peak,
            baseline.novel_rate,
            baseline.novel_peak,
            baseline.byte_rate,
            baseline.byte_peak,
            baseline.day_bytes,
            baseline.day_peak,
        ) = (float(x) for x in state["rates"])
        baseline.lb_n, baseline.lb_mean, baseline.lb_var = (float(x) for x in state["bytes"])
        refused, outcomes, recent, recent_n = state["outcomes"]
        baseline.refused, baseline.outcomes = float(refused), float(outcomes)
        baseline.recent, baseline.recent_n = int(recent), int(recent_n)
        baseline.concurrent, baseline.concurrent_n = (float(x) for x in state["concurrent"])
        baseline.footprints = {str(k): float(v) for k, v in state["prints"].items()}
        baseline.travel_hits, baseline.travel_n = (float(x) for x in state["travel"])
        home, settled, settled_ts = state["places"]
        baseline.home_country, baseline.settled_country = str(home), str(settled)
        baseline.settled_ts = float(settled_ts)
        baseline.accepted = {str(k): float(v) for k, v in state["accepted"].items()}
        *pending, hour, clean = state["pending"]
        baseline.pending = [float(x) for x in pending]
        baseline.pending_hour, baseline.pending_clean = int(hour), bool(clean)
        baseline.upgrade_ts = float(state["upgrade"])
        place, since, count = state["relocation"]
        baseline.relocation = [str(place), float(since), int(count)]
        baseline.habits = {str(k): [int(d), int(n)] for k, (d, n) in state["habits"].items()}
        baseline.fresh = {str(k): float(t) for k, t in state.get("fresh", {}).items()}
        baseline.gap = float(state.get("gap", 0.0))
        return baseline

    def peer_values(self) -> list[tuple[str, str]]:
        """Every established (dimension, value): what peers learn from this identity."""
        pairs: list[tuple[str, str]] = []
        for (name, _, _), table in zip(DIMENSIONS, self.seen, strict=True):
            pairs.extend((name, value) for value, weight in table.items() if weight >= _ESTABLISHED)
        return pairs


def _peer_discount(kind: str, count: int, size: int) -> float:
    """The share of a first use's surprise left when ``count`` members of a group of
    ``size`` (0: unknown) already use the value."""
    discount = _PEER_DISCOUNT.get(kind, 0.5)
    if size > 2 and kind in _SHARED_GROUPS:
        share = min(1.0, count / ((size - 1) * _PEER_SHARE_FULL))
        discount = 1.0 - (1.0 - discount) * share
    return discount


def _stream(obs: Observation) -> str:
    return obs.session or f"{obs.asn or obs.net}|{obs.ua_family}"


def _rounded(table: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 3) for key, value in table.items()}


def _evict(table: dict[str, float], cap: int) -> None:
    # Keep the three quarters most used; evicting in bulk keeps this off the hot path.
    keep = sorted(table.items(), key=lambda item: item[1], reverse=True)[: cap * 3 // 4]
    table.clear()
    table.update(keep)


def _binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    q = 1.0 - p
    return sum(math.comb(n, j) * p**j * q ** (n - j) for j in range(k, n + 1))
