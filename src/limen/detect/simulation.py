"""A seeded, labelled organisation to train and judge the detector on.

``simulate(seed)`` builds a company — humans in teams with time zones, home and office
networks and devices; AI agents of several classes, each owned by a human and run during
its owner's day (or around the clock); services on cloud networks — and the event
documents they produce: a clean learning period, then a test period in which attack
episodes and benign-but-unusual episodes are injected. Every malicious event is labelled
with its episode; benign episodes are listed with their identities and windows so false
alerts can be traced to them.

It lives in the package, not in tests, because three parts share it: the tests (small
traces, one episode of each kind), ``benchmarks/detect.py`` (the full trace, and a variant
with different parameters that the detector was not tuned on) and ``limen detect
simulate``, which lets anyone try the detector and the replay command.

Names of tools, actions and resources are this generator's own; the detector keys on none
of them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from limen.detect.registry import IdentityInfo, Registry, describe

if TYPE_CHECKING:
    from limen.audit import Actor
    from limen.store import UnitOfWork

__all__ = [
    "ATTACK_KINDS",
    "BENIGN_KINDS",
    "VARIANT",
    "Episode",
    "IdentitySpec",
    "SimulationParameters",
    "Trace",
    "register",
    "simulate",
    "small",
]

ATTACK_KINDS: Final = (
    "exfil-chain",
    "new-database",
    "secret-burst",
    "odd-hour-country",
    "impossible-travel",
    "service-new-network",
    "privilege-probing",
    "offboarded-owner",
    "slow-exfil",
    "mimicry",
)
"""The attacks of issue #18, one generator each."""

BENIGN_KINDS: Final = (
    "travel",
    "new-project",
    "on-call-night",
    "quarterly-job",
    "new-laptop",
    "heavy-day",
    "agent-upgrade",
    "service-migration",
)
"""The unusual-but-benign behaviours of issue #18."""

_DAY: Final = 86400.0
_HOUR: Final = 3600.0
# A Monday in January: no daylight-saving change falls inside four weeks from here.
_EPOCH: Final = datetime(2026, 1, 5, tzinfo=UTC).timestamp()

_TEAMS: Final = (
    # name, country, UTC offset, tz, residential AS, office AS
    ("payments", "DE", 1, "Europe/Berlin", "AS3320", "AS65101"),
    ("platform", "US", -5, "America/New_York", "AS7922", "AS65102"),
    ("data", "GB", 0, "Europe/London", "AS2856", "AS65103"),
    ("support", "IN", 5.5, "Asia/Kolkata", "AS24560", "AS65104"),
    ("mobile", "BR", -3, "America/Sao_Paulo", "AS28573", "AS65105"),
    ("infra", "US", -8, "America/Los_Angeles", "AS7018", "AS65106"),
    ("security", "NL", 1, "Europe/Amsterdam", "AS1136", "AS65107"),
    ("growth", "JP", 9, "Asia/Tokyo", "AS2516", "AS65108"),
)
_FAR: Final = ("RU", "CN", "NG", "VN", "BR", "AU", "ZA", "KR", "ID", "AR", "TR", "UA")
_HOSTING: Final = ("AS14061", "AS16276", "AS24940", "AS63949", "AS20473", "AS9009")
_HOTEL: Final = ("AS6830", "AS3215", "AS12322", "AS5089", "AS6939", "AS4766")
_CLOUD: Final = ("AS16509", "AS15169", "AS8075")
_DESKTOP_UA: Final = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605.1",
)
_NEW_DEVICE_UA: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Edg/124.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64) AppleWebKit/537.36 Chromium/123.0 Safari/537.36",
)
_PHONE_UA: Final = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"
_ATTACKER_UA: Final = (
    "python-requests/2.31.0",
    "curl/8.5.0",
    "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/122.0 Safari/537.36",
    "Go-http-client/1.1",
)
_MOBILE_AS: Final = {
    "DE": "AS3209",
    "US": "AS21928",
    "GB": "AS5378",
    "IN": "AS45609",
    "BR": "AS26599",
    "NL": "AS33915",
    "JP": "AS9605",
}
_WEB: Final = (
    "docs.python.org",
    "stackoverflow.com",
    "github.com",
    "pypi.org",
    "developer.mozilla.org",
)
_EXFIL_HOSTS: Final = (
    "paste-drop.net",
    "files-share.io",
    "cdn-sync.org",
    "upld.cc",
    "dropzone.site",
    "backup-mirror.net",
    "transfer-now.io",
    "bucket-x.cloud",
)


@dataclass(frozen=True, slots=True)
class SimulationParameters:
    """What the organisation looks like and how loud the episodes are."""

    humans: int = 80
    agents: int = 100
    services: int = 25
    learn_days: int = 14
    test_days: int = 14
    attacks_per_kind: int = 4
    benign_per_kind: int = 4
    human_events_per_day: float = 40.0
    agent_sessions_per_day: float = 4.0
    explore: float = 0.04
    """Share of a human's events that open a page never opened before."""
    attack_scale: float = 1.0
    """Multiplies the number of events an attack produces."""
    attack_kinds: tuple[str, ...] = ATTACK_KINDS
    benign_kinds: tuple[str, ...] = BENIGN_KINDS
    jitter: float = 1.0
    """Multiplies the randomness of schedules and rates."""


VARIANT: Final = SimulationParameters(
    humans=60,
    agents=110,
    services=30,
    human_events_per_day=55.0,
    agent_sessions_per_day=5.0,
    explore=0.08,
    attack_scale=0.6,
    jitter=1.6,
)
"""Parameters the detector was not tuned on: busier, more exploratory, quieter attacks."""


@dataclass(frozen=True, slots=True)
class IdentitySpec:
    """One identity of the organisation, as the identity registry would hold it."""

    name: str
    kind: str
    owner: str | None
    attributes: dict[str, Any]
    email: str | None = None


@dataclass(slots=True)
class Episode:
    """An injected episode: an attack (malicious) or an unusual-but-benign behaviour."""

    id: str
    kind: str
    malicious: bool
    identities: list[str]
    start: float
    end: float
    event_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Trace:
    """The organisation, its events in time order, and the truth about them."""

    identities: list[IdentitySpec]
    events: list[dict[str, Any]]
    labels: dict[str, str]
    """Event id → the id of the attack episode it belongs to (malicious events only)."""
    episodes: list[Episode]
    test_start: float
    end: float

    def registry(self) -> Registry:
        """The registry the live server would have: identities keyed by name here."""
        return Registry(_info(spec) for spec in self.identities)

    @property
    def attacks(self) -> list[Episode]:
        return [e for e in self.episodes if e.malicious]

    @property
    def benign(self) -> list[Episode]:
        return [e for e in self.episodes if not e.malicious]


def _info(spec: IdentitySpec) -> IdentityInfo:
    return describe(
        key=spec.name, name=spec.name, kind=spec.kind, owner=spec.owner, attributes=spec.attributes
    )


# -- the organisation ------------------------------------------------------------------


@dataclass(slots=True)
class _Place:
    ip: str
    asn: str
    country: str


@dataclass(slots=True)
class _Override:
    start: float
    end: float
    place: _Place | None = None
    ua: str | None = None
    shift: float = 0.0
    """Hours the working day moves (travel to another time zone)."""
    volume: float = 1.0
    extra: list[tuple[str, str, str]] | None = None
    """Extra (action, type, id) choices used from start to end (a new project)."""
    first_use: float = math.inf
    """When the human first used one of ``extra`` (its agents follow after that)."""


@dataclass(slots=True)
class _Human:
    name: str
    team: int
    offset: float
    home: _Place
    office: _Place
    phone: _Place
    ua: str
    start_hour: float
    day_hours: float
    daily: float
    pool: list[tuple[str, str, str]]
    weights: list[float]
    overrides: list[_Override] = field(default_factory=list)
    active_until: float = math.inf
    flights: list[tuple[float, float]] = field(default_factory=list)
    """Times in the air: neither the human nor agents on its machine act."""

    def flying(self, t: float) -> bool:
        return any(lo <= t < hi for lo, hi in self.flights)


@dataclass(slots=True)
class _Agent:
    name: str
    cls: str
    owner: _Human
    place: _Place | None
    """Where it runs; ``None``: on its owner's machine."""
    ua: str
    repos: list[str]
    dbs: list[str]
    tables: list[str]
    secrets: list[str]
    services: list[str]
    sessions: float
    overrides: list[_Override] = field(default_factory=list)
    extra_tools: list[str] = field(default_factory=list)
    active_until: float = math.inf


@dataclass(slots=True)
class _Service:
    name: str
    cls: str
    owner: _Human
    place: _Place
    ua: str
    period: float
    jobs: list[tuple[str, str, str, float]]
    """(action, type, id, typical bytes)."""
    secret: str
    busy_hour: int
    overrides: list[_Override] = field(default_factory=list)


_AGENT_CLASSES: Final = ("coding", "support", "data", "ops")
_SERVICE_CLASSES: Final = ("etl", "billing", "backup", "webhook", "ci")

_CHAINS: Final[dict[str, dict[str, tuple[tuple[str, float], ...]]]] = {
    "coding": {
        "^": (("repo.read", 0.6), ("fs.read", 0.4)),
        "repo.read": (("fs.read", 0.9), ("web.search", 0.1)),
        "fs.read": (
            ("fs.read", 0.3),
            ("fs.write", 0.45),
            ("web.search", 0.1),
            ("shell.exec", 0.15),
        ),
        "fs.write": (("test.run", 0.5), ("fs.read", 0.3), ("fs.write", 0.2)),
        "test.run": (("fs.write", 0.45), ("repo.push", 0.2), ("fs.read", 0.35)),
        "shell.exec": (("fs.read", 0.7), ("test.run", 0.3)),
        "web.search": (("fs.read", 1.0),),
        "repo.push": (("$", 1.0),),
    },
    "support": {
        "^": (("ticket.read", 1.0),),
        "ticket.read": (("kb.search", 0.6), ("crm.lookup", 0.4)),
        "kb.search": (("kb.search", 0.2), ("crm.lookup", 0.3), ("email.draft", 0.5)),
        "crm.lookup": (("kb.search", 0.3), ("email.draft", 0.7)),
        "email.draft": (("email.send", 0.8), ("ticket.update", 0.2)),
        "email.send": (("ticket.update", 0.8), ("$", 0.2)),
        "ticket.update": (("$", 0.6), ("ticket.read", 0.4)),
    },
    "data": {
        "^": (("db.query", 0.5), ("warehouse.query", 0.5)),
        "db.query": (("db.query", 0.4), ("warehouse.query", 0.3), ("notebook.run", 0.3)),
        "warehouse.query": (("warehouse.query", 0.4), ("notebook.run", 0.4), ("db.query", 0.2)),
        "notebook.run": (("report.write", 0.4), ("warehouse.query", 0.4), ("$", 0.2)),
        "report.write": (("$", 1.0),),
    },
    "ops": {
        "^": (("metrics.query", 0.6), ("logs.read", 0.4)),
        "metrics.query": (("metrics.query", 0.3), ("logs.read", 0.4), ("k8s.get", 0.3)),
        "logs.read": (("logs.read", 0.3), ("k8s.get", 0.4), ("$", 0.3)),
        "k8s.get": (("vault.read", 0.15), ("k8s.get", 0.3), ("metrics.query", 0.3), ("$", 0.25)),
        "vault.read": (("deploy.rollout", 0.5), ("k8s.get", 0.5)),
        "deploy.rollout": (("k8s.get", 1.0),),
    },
}
_UPGRADE_TOOL: Final = {
    "coding": "code.review",
    "support": "sentiment.check",
    "data": "schema.inspect",
    "ops": "alerts.list",
}


class _Builder:
    def __init__(self, seed: int, params: SimulationParameters) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
        self.p = params
        self.events: list[tuple[float, int, dict[str, Any], str | None, str | None]] = []
        # (ts, tiebreak, document, attack episode id, benign episode id)
        self.episodes: list[Episode] = []
        self.test_start = _EPOCH + params.learn_days * _DAY
        self.end = self.test_start + params.test_days * _DAY
        self.humans: list[_Human] = []
        self.agents: list[_Agent] = []
        self.services: list[_Service] = []
        self.specs: list[IdentitySpec] = []
        self._tiebreak = 0
        self._ip_counter = 0
        self.pending: list[Callable[[], None]] = []

    # -- the organisation ---------------------------------------------------------------

    def _net(self, prefix: str) -> str:
        self._ip_counter += 1
        n = self._ip_counter
        return f"{prefix}.{(n // 250) % 250 + 1}.{n % 250 + 1}"

    def _ip(self, net: str) -> str:
        return f"{net}.{self.rng.randint(2, 254)}"

    def build(self) -> None:
        rng, p = self.rng, self.p
        for index in range(p.humans):
            team = index % len(_TEAMS)
            tname, country, offset, tz, home_as, office_as = _TEAMS[team]
            name = f"{tname}.person{index:03d}"
            pool = self._team_pool(tname, rng)
            weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(pool))]
            rng.shuffle(weights)
            human = _Human(
                name=name,
                team=team,
                offset=offset,
                home=_Place(self._ip(self._net("84")), home_as, country),
                office=_Place(self._ip(self._net(f"10.{team + 1}")), office_as, country),
                phone=_Place(self._ip(self._net("100")), _MOBILE_AS.get(country, home_as), country),
                ua=rng.choice(_DESKTOP_UA),
                start_hour=rng.gauss(9.0, 0.8),
                day_hours=rng.gauss(8.5, 0.7),
                daily=p.human_events_per_day * rng.lognormvariate(0, 0.35),
                pool=pool,
                weights=weights,
            )
            self.humans.append(human)
            self.specs.append(
                IdentitySpec(
                    name=name,
                    kind="human",
                    owner=None,
                    email=f"{name}@example.com",
                    attributes={"team": tname, "tz": tz, "country": country},
                )
            )
        for index in range(p.agents):
            owner = rng.choice(self.humans)
            cls = _AGENT_CLASSES[index % len(_AGENT_CLASSES)]
            tname = _TEAMS[owner.team][0]
            place = (
                None
                if cls == "coding"
                else _Place(
                    self._ip(self._net(f"10.{100 + _AGENT_CLASSES.index(cls)}")), "AS64600", "US"
                )
            )
            agent = _Agent(
                name=f"{tname}.{cls}-agent{index:03d}",
                cls=cls,
                owner=owner,
                place=place,
                ua=f"limen-agent/{cls} 1.4.2 (python-httpx/0.27.0)",
                repos=rng.sample(
                    [f"{tname}-{k}" for k in ("api", "web", "lib", "infra", "jobs", "sdk")], 3
                ),
                dbs=rng.sample([f"{tname}-db{k}" for k in range(4)], 2),
                tables=[f"dw.{tname}_{k}" for k in rng.sample(range(12), 5)],
                secrets=[f"{tname}/{k}" for k in rng.sample(range(10), 3)],
                services=[f"{tname}-svc{k}" for k in rng.sample(range(5), 3)],
                sessions=p.agent_sessions_per_day * rng.lognormvariate(0, 0.3),
            )
            self.agents.append(agent)
            self.specs.append(
                IdentitySpec(
                    name=agent.name,
                    kind="agent",
                    owner=owner.name,
                    attributes={"class": cls, "team": tname},
                )
            )
        for index in range(p.services):
            owner = rng.choice(
                [h for h in self.humans if _TEAMS[h.team][0] in ("platform", "infra", "data")]
            )
            cls = _SERVICE_CLASSES[index % len(_SERVICE_CLASSES)]
            tname = _TEAMS[owner.team][0]
            region = index % 3
            place = _Place(
                self._ip(self._net(f"52.{region}")), _CLOUD[region], ("US", "DE", "IE")[region]
            )
            jobs = self._service_jobs(cls, index, rng)
            service = _Service(
                name=f"svc-{cls}-{index:02d}",
                cls=cls,
                owner=owner,
                place=place,
                ua=f"svc-{cls}/3.{index % 5}.1 go-http-client/1.1",
                period=rng.choice((300.0, 600.0, 900.0, 1800.0)),
                jobs=jobs,
                secret=f"services/{cls}-{index:02d}",
                busy_hour=rng.randint(0, 23),
            )
            self.services.append(service)
            self.specs.append(
                IdentitySpec(
                    name=service.name,
                    kind="service",
                    owner=owner.name,
                    attributes={"class": cls, "team": tname},
                )
            )

    def _team_pool(self, team: str, rng: random.Random) -> list[tuple[str, str, str]]:
        pool = [
            ("repo.read", "repo", f"{team}-{k}") for k in ("api", "web", "lib", "infra", "jobs")
        ]
        pool += [("repo.push", "repo", f"{team}-{k}") for k in ("api", "web")]
        pool += [("doc.read", "doc", f"wiki/{team}/{k}") for k in range(12)]
        pool += [("db.query", "db", f"{team}-db{k}") for k in range(2)]
        pool += [("vault.secret.read", "secret", f"{team}/{k}") for k in range(4)]
        pool += [("ticket.update", "ticket", f"{team.upper()}-{k}") for k in range(6)]
        pool += [("http.request", "app", k) for k in ("console", "grafana", "jira", "slack")]
        rng.shuffle(pool)
        return pool[: rng.randint(18, len(pool))]

    def _service_jobs(
        self, cls: str, index: int, rng: random.Random
    ) -> list[tuple[str, str, str, float]]:
        if cls == "etl":
            return [
                ("db.query", "db", f"src-db{index % 4}", 2e5),
                ("warehouse.load", "table", f"dw.t{index}", 5e5),
            ]
        if cls == "billing":
            return [
                ("db.query", "db", "billing-prod", 2e4),
                ("http.request", "url", "api.stripe.com", 4e3),
            ]
        if cls == "backup":
            return [
                ("db.dump", "db", f"src-db{index % 4}", 5e6),
                ("storage.write", "bucket", "backups", 5e6),
            ]
        if cls == "webhook":
            return [
                ("http.request", "url", f"hooks.partner{index % 3}.com", 2e3),
                ("queue.read", "queue", "events", 1e3),
            ]
        return [("repo.read", "repo", f"platform-{k}", 1e5) for k in ("api", "web")] + [
            ("artifact.write", "bucket", "artifacts", 2e6)
        ]

    # -- events ---------------------------------------------------------------------------

    def emit(
        self,
        ts: float,
        actor: str,
        kind: str,
        action: str,
        rtype: str,
        rid: str,
        place: _Place,
        ua: str,
        *,
        outcome: str = "success",
        tool: str | None = None,
        session: str | None = None,
        nbytes: float | None = None,
        delegation: str | None = None,
        attack: str | None = None,
        benign: str | None = None,
    ) -> None:
        context: dict[str, Any] = {
            "ip": place.ip,
            "user_agent": ua,
            "geo": {"country": place.country, "asn": place.asn},
        }
        if tool:
            context["tool"] = tool
        if session:
            context["session"] = session
        if nbytes:
            context["bytes"] = int(nbytes)
        document = {
            "occurred_at": ts,
            "actor": {"id": None, "name": actor, "kind": kind},
            "delegation": [{"id": None, "kind": "human", "name": delegation}] if delegation else [],
            "action": action,
            "resource": {"type": rtype, "id": rid, "name": rid},
            "outcome": outcome,
            "context": context,
        }
        self._tiebreak += 1
        self.events.append((ts, self._tiebreak, document, attack, benign))

    def _override(self, overrides: list[_Override], ts: float) -> _Override | None:
        for override in overrides:
            if override.start <= ts < override.end:
                return override
        return None

    def human_day(self, human: _Human, day: int) -> None:
        rng, p = self.rng, self.p
        midnight_utc = _EPOCH + day * _DAY
        override = self._override(human.overrides, midnight_utc + 12 * _HOUR)
        shift = override.shift if override else 0.0
        weekday = day % 7 < 5
        if not weekday and rng.random() > 0.08:
            return
        volume = (override.volume if override else 1.0) * (1.0 if weekday else 0.25)
        start_local = human.start_hour + rng.gauss(0, 0.5 * p.jitter)
        length = max(2.0, human.day_hours + rng.gauss(0, 0.6 * p.jitter)) * (
            1.0 if weekday else 0.4
        )
        count = max(1, int(rng.gauss(human.daily * volume, human.daily * 0.2 * p.jitter)))
        remote = rng.random() < 0.35
        base = midnight_utc + (start_local - human.offset - shift) * _HOUR
        sessions = max(1, count // 10)
        for _ in range(sessions):
            t = base + rng.random() * length * _HOUR
            session = f"s{rng.getrandbits(32):08x}"
            for _ in range(max(1, int(rng.expovariate(1 / 10)))):
                t += rng.expovariate(1 / 60.0)
                self.human_event(human, t, session, remote)

    def human_event(
        self, human: _Human, t: float, session: str, remote: bool, benign: str | None = None
    ) -> None:
        rng = self.rng
        if t >= human.active_until or human.flying(t):
            return
        override = self._override(human.overrides, t)
        place = human.home if remote else human.office
        ua = human.ua
        if override is not None:
            place = override.place or place
            ua = override.ua or ua
            benign = benign or _benign_of(override)
        if rng.random() < 0.08:
            place, ua = human.phone, _PHONE_UA
            if override is not None and override.place is not None:
                place = override.place
        if override is not None and override.extra and rng.random() < 0.4:
            action, rtype, rid = rng.choice(override.extra)
            override.first_use = min(override.first_use, t)
        elif rng.random() < self.p.explore:
            action, rtype, rid = (
                "doc.read",
                "doc",
                f"wiki/{_TEAMS[human.team][0]}/p{rng.getrandbits(24):06x}",
            )
        else:
            action, rtype, rid = rng.choices(human.pool, human.weights)[0]
        outcome = "denied" if rng.random() < 0.005 else "success"
        nbytes = (
            rng.lognormvariate(10, 1.2) if action in ("doc.read", "db.query", "repo.read") else None
        )
        self.emit(
            t,
            human.name,
            "human",
            action,
            rtype,
            rid,
            place,
            ua,
            outcome=outcome,
            session=session,
            nbytes=nbytes,
            benign=benign,
        )

    def agent_place(self, agent: _Agent, t: float) -> tuple[_Place, str | None]:
        if agent.place is not None:
            override = self._override(agent.overrides, t)
            return (override.place if override and override.place else agent.place), None
        owner = agent.owner
        override = self._override(owner.overrides, t)
        if override is not None and override.place is not None:
            return override.place, _benign_of(override)
        return owner.office, None

    def agent_day(self, agent: _Agent, day: int) -> None:
        rng, p = self.rng, self.p
        owner = agent.owner
        midnight_utc = _EPOCH + day * _DAY
        override = self._override(owner.overrides, midnight_utc + 12 * _HOUR)
        shift = override.shift if override else 0.0
        volume = override.volume if override and override.volume != 1.0 else 1.0
        own = self._override(agent.overrides, midnight_utc + 12 * _HOUR)
        if own is not None:
            volume *= own.volume
        weekday = day % 7 < 5
        if weekday:
            n = _poisson(rng, agent.sessions * volume)
            for _ in range(n):
                local = owner.start_hour + rng.random() * owner.day_hours
                t = (
                    midnight_utc
                    + (local - owner.offset - shift) * _HOUR
                    + rng.gauss(0, 600 * p.jitter)
                )
                self.agent_session(agent, t, rng.randint(8, 40))
        if agent.cls == "ops":
            t = midnight_utc + rng.random() * 3600
            while t < midnight_utc + _DAY:
                self.agent_session(agent, t, rng.randint(3, 6))
                t += rng.uniform(1800, 3600) * p.jitter

    def agent_session(self, agent: _Agent, t: float, steps: int, benign: str | None = None) -> None:
        rng = self.rng
        if t >= agent.active_until or (agent.place is None and agent.owner.flying(t)):
            return
        chain = _CHAINS[agent.cls]
        step = "^"
        session = f"a{rng.getrandbits(32):08x}"
        upgraded = self._override(agent.overrides, t)
        ua = upgraded.ua if upgraded and upgraded.ua else agent.ua
        if upgraded is not None:
            benign = benign or _benign_of(upgraded)
        for _ in range(steps):
            choices = chain.get(step, (("$", 1.0),))
            step = rng.choices([c for c, _ in choices], [w for _, w in choices])[0]
            if step == "$":
                break
            if agent.extra_tools and upgraded is not None and rng.random() < 0.15:
                self.agent_tool(agent, t, rng.choice(agent.extra_tools), session, ua, benign)
                t += rng.uniform(2, 20)
            self.agent_tool(agent, t, step, session, ua, benign)
            t += rng.uniform(2, 20) * self.p.jitter

    def agent_tool(
        self,
        agent: _Agent,
        t: float,
        tool: str,
        session: str,
        ua: str,
        benign: str | None = None,
        attack: str | None = None,
        target: tuple[str, str] | None = None,
        outcome: str | None = None,
        nbytes: float | None = None,
        place: _Place | None = None,
    ) -> None:
        rng = self.rng
        if target is None:
            target = self.agent_target(agent, tool, t)
        action = "vault.secret.read" if tool == "vault.read" else "tool.call"
        where, travel = self.agent_place(agent, t) if place is None else (place, None)
        if nbytes is None and tool in ("db.query", "warehouse.query", "fs.read", "logs.read"):
            nbytes = rng.lognormvariate(9, 1.0)
        if outcome is None:
            outcome = "denied" if rng.random() < 0.01 else "success"
        self.emit(
            t,
            agent.name,
            "agent",
            action,
            target[0],
            target[1],
            where,
            ua,
            tool=tool,
            session=session,
            nbytes=nbytes,
            delegation=agent.owner.name,
            outcome=outcome,
            attack=attack,
            benign=benign or travel,
        )

    def agent_target(self, agent: _Agent, tool: str, t: float) -> tuple[str, str]:
        rng = self.rng
        extra = self._override(agent.owner.overrides, t)
        if extra is not None and extra.extra and rng.random() < 0.35 and t > extra.first_use + 1800:
            _, rtype, rid = rng.choice(extra.extra)
            if rtype in ("repo", "db"):
                return rtype, rid
        if tool in ("repo.read", "repo.push", "test.run"):
            return "repo", rng.choice(agent.repos)
        if tool in ("fs.read", "fs.write"):
            repo = rng.choice(agent.repos)
            k = rng.randint(0, 30) if rng.random() > 0.05 else rng.randint(31, 100000)
            return "file", f"{repo}/src/m{k}.py"
        if tool == "web.search":
            return "url", rng.choice(_WEB)
        if tool == "shell.exec":
            return "host", "devbox"
        if tool == "ticket.read" or tool == "ticket.update":
            return "ticket", f"SUP-{rng.randint(1000, 99999)}"
        if tool == "kb.search":
            return "kb", "support-kb"
        if tool == "crm.lookup":
            return "db", "crm-prod"
        if tool in ("email.draft", "email.send"):
            return "mailbox", "support@example.com"
        if tool == "db.query":
            return "db", rng.choice(agent.dbs)
        if tool == "warehouse.query":
            return "table", rng.choice(agent.tables)
        if tool == "notebook.run":
            return "notebook", f"nb-{agent.name[-3:]}"
        if tool == "report.write":
            return "bucket", f"reports-{agent.name.split('.')[0]}"
        if tool in ("metrics.query", "logs.read"):
            return "service", rng.choice(agent.services)
        if tool in ("k8s.get", "deploy.rollout"):
            return "cluster", f"k8s-{agent.name.split('.')[0]}"
        if tool == "vault.read":
            return "secret", rng.choice(agent.secrets)
        return "tool", tool

    def service_day(self, service: _Service, day: int) -> None:
        rng, p = self.rng, self.p
        midnight = _EPOCH + day * _DAY
        t = midnight + rng.random() * service.period
        last_secret = -math.inf
        while t < midnight + _DAY:
            hour = int((t - midnight) // _HOUR)
            load = 1.0 + (
                0.8 if 8 <= (hour + 0) % 24 <= 18 and service.cls in ("billing", "webhook") else 0.0
            )
            load += 1.5 if hour == service.busy_hour else 0.0
            override = self._override(service.overrides, t)
            benign = _benign_of(override) if override else None
            if override is not None:
                load *= override.volume
            place = override.place if override and override.place else service.place
            if t - last_secret > 4 * _HOUR:
                self.emit(
                    t,
                    service.name,
                    "service",
                    "vault.secret.read",
                    "secret",
                    service.secret,
                    place,
                    service.ua,
                    benign=benign,
                )
                last_secret = t
            for _ in range(_poisson(rng, 1.5 * load)):
                action, rtype, rid, size = rng.choice(service.jobs)
                outcome = (
                    "failure"
                    if rng.random() < 0.003
                    else ("denied" if rng.random() < 0.002 else "success")
                )
                self.emit(
                    t + rng.random() * 5,
                    service.name,
                    "service",
                    action,
                    rtype,
                    rid,
                    place,
                    service.ua,
                    outcome=outcome,
                    nbytes=size * rng.lognormvariate(0, 0.5),
                    benign=benign,
                )
            t += (
                service.period
                * rng.uniform(0.8, 1.2)
                / (1.0 if not override else max(1.0, override.volume / 2))
            )
        del p

    def normal_activity(self) -> None:
        days = self.p.learn_days + self.p.test_days
        for day in range(days):
            for human in self.humans:
                self.human_day(human, day)
            for agent in self.agents:
                self.agent_day(agent, day)
            for service in self.services:
                self.service_day(service, day)

    # -- episodes ---------------------------------------------------------------------------

    def episode(
        self, kind: str, malicious: bool, identities: list[str], start: float, end: float
    ) -> Episode:
        episode = Episode(
            id=f"{'atk' if malicious else 'ben'}-{kind}-{len(self.episodes):03d}",
            kind=kind,
            malicious=malicious,
            identities=identities,
            start=start,
            end=end,
        )
        self.episodes.append(episode)
        return episode

    def test_time(self, *, margin_days: float = 1.0) -> float:
        span = self.p.test_days - margin_days
        return self.test_start + self.rng.random() * span * _DAY

    def work_time(self, human: _Human, *, margin_days: float = 1.0) -> float:
        """A time during the human's working day in the test period."""
        rng = self.rng
        while True:
            day = self.p.learn_days + rng.randrange(max(1, int(self.p.test_days - margin_days)))
            if day % 7 < 5:
                break
        local = human.start_hour + rng.uniform(1.0, human.day_hours - 2.0)
        return _EPOCH + day * _DAY + (local - human.offset) * _HOUR

    def night_time(self, human: _Human) -> float:
        rng = self.rng
        day = self.p.learn_days + rng.randrange(max(1, self.p.test_days - 1))
        local = rng.uniform(1.0, 4.0)
        return _EPOCH + day * _DAY + (local - human.offset) * _HOUR

    def scaled(self, low: int, high: int) -> int:
        return max(3, int(self.rng.randint(low, high) * self.p.attack_scale))

    def pick(self, items: list[Any], used: set[str]) -> Any:
        free = [item for item in items if item.name not in used]
        choice = self.rng.choice(free or items)
        used.add(choice.name)
        return choice


def _benign_of(override: _Override | None) -> str | None:
    return getattr(override, "episode", None) if override is not None else None


class _TaggedOverride(_Override):
    __slots__ = ("episode",)

    def __init__(self, episode: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.episode = episode


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, int(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


# -- benign episodes (set up before normal activity: they change how it is generated) ------


def _benign(builder: _Builder, kind: str, used: set[str]) -> None:
    rng = builder.rng
    if kind == "travel":
        human = builder.pick(builder.humans, used)
        home = _TEAMS[human.team][1]
        country = rng.choice(
            [c for c in ("JP", "US", "GB", "SG", "AU", "DE", "BR", "IN") if c != home]
        )
        from limen.detect import geography

        shift = (geography.utc_offset(country) or 0) - (geography.utc_offset(home) or 0)
        start = builder.test_time(margin_days=5) + rng.uniform(0, 3) * _HOUR
        end = start + rng.uniform(3, 5) * _DAY
        episode = builder.episode(kind, False, [human.name], start, end)
        place = _Place(builder._ip(builder._net("77")), rng.choice(_HOTEL), country)
        human.overrides.append(
            _TaggedOverride(episode.id, start=start, end=end, place=place, shift=shift, volume=0.7)
        )
        # The flights out and back: no activity for as long as the journey takes.
        hours = (geography.distance_km(home, country) or 5000.0) / 800.0 + 3.0
        human.flights.append((start - hours * _HOUR, start))
        human.flights.append((end, end + hours * _HOUR))
    elif kind == "new-project":
        free_teams = [k for k in range(len(_TEAMS)) if f"team:{k}" not in used]
        team = rng.choice(free_teams or list(range(len(_TEAMS))))
        used.add(f"team:{team}")
        tname = _TEAMS[team][0]
        members = [h for h in builder.humans if h.team == team][:4]
        start = builder.test_time(margin_days=4)
        end = builder.end
        episode = builder.episode(kind, False, [h.name for h in members], start, end)
        tag = rng.getrandbits(16)
        extra = [
            ("repo.read", "repo", f"{tname}-proj{tag:x}"),
            ("repo.push", "repo", f"{tname}-proj{tag:x}"),
            ("db.query", "db", f"{tname}-proj{tag:x}-db"),
            ("doc.read", "doc", f"wiki/{tname}/proj{tag:x}"),
        ]
        for human in members:
            human.overrides.append(_TaggedOverride(episode.id, start=start, end=end, extra=extra))
            episode.identities.extend(a.name for a in builder.agents if a.owner is human)
    elif kind == "on-call-night":
        candidates = [
            h for h in builder.humans if _TEAMS[h.team][0] in ("platform", "infra", "security")
        ]
        human = builder.pick(candidates, used)
        t = builder.night_time(human)
        episode = builder.episode(kind, False, [human.name], t, t + 3 * _HOUR)
        builder.pending.append(lambda: _on_call(builder, human, t, episode))
    elif kind == "quarterly-job":
        service = builder.pick(builder.services, used)
        day = builder.p.learn_days + rng.randrange(builder.p.test_days - 1)
        start = _EPOCH + day * _DAY + service.busy_hour * _HOUR
        end = start + rng.uniform(1.5, 3) * _HOUR
        episode = builder.episode(kind, False, [service.name], start, end)
        service.overrides.append(_TaggedOverride(episode.id, start=start, end=end, volume=8.0))
    elif kind == "new-laptop":
        human = builder.pick(builder.humans, used)
        start = builder.test_time(margin_days=3)
        ua = rng.choice([u for u in _NEW_DEVICE_UA + _DESKTOP_UA if u != human.ua])
        episode = builder.episode(kind, False, [human.name], start, builder.end)
        human.overrides.append(_TaggedOverride(episode.id, start=start, end=builder.end, ua=ua))
    elif kind == "heavy-day":
        day = builder.p.learn_days + rng.choice(
            [d for d in range(builder.p.test_days - 1) if (builder.p.learn_days + d) % 7 < 5]
        )
        if rng.random() < 0.5:
            human = builder.pick(builder.humans, used)
            start = _EPOCH + day * _DAY
            episode = builder.episode(kind, False, [human.name], start, start + _DAY)
            human.overrides.append(
                _TaggedOverride(episode.id, start=start, end=start + _DAY, volume=3.0)
            )
        else:
            agent = builder.pick(builder.agents, used)
            start = _EPOCH + day * _DAY
            episode = builder.episode(kind, False, [agent.name], start, start + _DAY)
            agent.overrides.append(
                _TaggedOverride(episode.id, start=start, end=start + _DAY, volume=3.0)
            )
    elif kind == "agent-upgrade":
        free_classes = [c for c in _AGENT_CLASSES if f"class:{c}" not in used]
        cls = rng.choice(free_classes or list(_AGENT_CLASSES))
        used.add(f"class:{cls}")
        members = [a for a in builder.agents if a.cls == cls and a.name not in used]
        start = builder.test_time(margin_days=3)
        episode = builder.episode(kind, False, [a.name for a in members], start, builder.end)
        for agent in members:
            when = start + rng.uniform(0, 12) * _HOUR
            agent.extra_tools = [_UPGRADE_TOOL[cls]]
            agent.overrides.append(
                _TaggedOverride(
                    episode.id,
                    start=when,
                    end=builder.end,
                    ua=agent.ua.replace("1.4.2", "2.0.0"),
                    place=agent.place,
                )
            )
    elif kind == "service-migration":
        owners = [s.owner for s in builder.services if s.name not in used]
        owner = rng.choice(owners or [builder.services[0].owner])
        members = [s for s in builder.services if s.owner is owner and s.name not in used][:4]
        used.update(s.name for s in members)
        start = builder.test_time(margin_days=3)
        episode = builder.episode(kind, False, [s.name for s in members], start, builder.end)
        region = rng.choice(_CLOUD)
        net = builder._net("35")
        for service in members:
            place = _Place(builder._ip(net), region, service.place.country)
            service.overrides.append(
                _TaggedOverride(episode.id, start=start, end=builder.end, place=place)
            )


def _on_call(builder: _Builder, human: _Human, t: float, episode: Episode) -> None:
    rng = builder.rng
    session = f"oc{rng.getrandbits(24):06x}"
    for _ in range(rng.randint(20, 60)):
        t += rng.expovariate(1 / 120.0)
        builder.human_event(human, t, session, remote=True, benign=episode.id)
    episode.end = t


# -- attacks (added after normal activity) --------------------------------------------------


def _human_from_afar(
    builder: _Builder,
    human: _Human,
    episode: Episode,
    t: float,
    place: _Place,
    *,
    prefix: str,
    events: tuple[int, int],
    gap: float,
    ua: str | None = None,
    meanwhile: Callable[[float], None] | None = None,
) -> float:
    """A session of a person's usual actions from ``place`` by someone holding their
    credentials (with ``ua``, else half the time the person's browser, half an attacker's
    tool); ``meanwhile`` after each event. Returns when it ended. The random draws keep
    their order, so a seed's trace stays the same."""
    rng = builder.rng
    if ua is None:
        ua = human.ua if rng.random() < 0.5 else rng.choice(_ATTACKER_UA)
    session = f"{prefix}{rng.getrandbits(32):08x}"
    for _ in range(builder.scaled(*events)):
        t += rng.expovariate(1 / gap)
        action, rtype, rid = rng.choices(human.pool, human.weights)[0]
        builder.emit(
            t,
            human.name,
            "human",
            action,
            rtype,
            rid,
            place,
            ua,
            session=session,
            attack=episode.id,
        )
        if meanwhile is not None:
            meanwhile(t)
    return t


def _attack(builder: _Builder, kind: str, used: set[str]) -> None:
    rng = builder.rng
    if kind == "exfil-chain":
        agent = builder.pick(builder.agents, used)
        t = builder.work_time(agent.owner)
        episode = builder.episode(kind, True, [agent.name], t, t)
        host = rng.choice(_EXFIL_HOSTS)
        session = f"x{rng.getrandbits(32):08x}"
        secrets = agent.secrets + [
            f"{_TEAMS[rng.randrange(8)][0]}/{k}" for k in rng.sample(range(10, 40), 6)
        ]
        for _ in range(builder.scaled(3, 7)):
            for _ in range(rng.randint(1, 3)):
                builder.agent_tool(
                    agent,
                    t,
                    "vault.read",
                    session,
                    agent.ua,
                    attack=episode.id,
                    target=("secret", rng.choice(secrets)),
                )
                t += rng.uniform(2, 10)
            builder.agent_tool(
                agent,
                t,
                "http.post",
                session,
                agent.ua,
                attack=episode.id,
                target=("url", host),
                nbytes=rng.uniform(2e5, 5e6),
            )
            t += rng.uniform(5, 40)
        episode.end = t
    elif kind == "new-database":
        agent = builder.pick(
            [a for a in builder.agents if a.cls in ("data", "coding", "ops")], used
        )
        t = builder.work_time(agent.owner)
        episode = builder.episode(kind, True, [agent.name], t, t)
        db = rng.choice(
            ("payments-prod", "hr-records", "customers-pii", "ledger-prod", "auth-users")
        )
        session = f"d{rng.getrandbits(32):08x}"
        for _ in range(builder.scaled(5, 20)):
            builder.agent_tool(
                agent,
                t,
                "db.query",
                session,
                agent.ua,
                attack=episode.id,
                target=("db", db),
                nbytes=rng.lognormvariate(11, 1.5),
            )
            t += rng.uniform(5, 60)
            if rng.random() < 0.3:
                builder.agent_tool(
                    agent,
                    t,
                    "warehouse.query" if agent.cls == "data" else "fs.read",
                    session,
                    agent.ua,
                    attack=episode.id,
                )
                t += rng.uniform(3, 20)
        episode.end = t
    elif kind == "secret-burst":
        population = builder.humans + builder.agents + builder.services
        who = builder.pick(population, used)
        t = builder.work_time(
            who if isinstance(who, _Human) else getattr(who, "owner", builder.humans[0])
        )
        episode = builder.episode(kind, True, [who.name], t, t)
        for k in range(builder.scaled(30, 120)):
            secret = f"{_TEAMS[rng.randrange(8)][0]}/{rng.randint(0, 60)}"
            t += rng.uniform(0.5, 4)
            _act_as(
                builder,
                who,
                t,
                "vault.secret.read",
                "secret",
                secret,
                attack=episode.id,
                tool="vault.read",
                session=f"b{k // 500}",
            )
        episode.end = t
    elif kind == "odd-hour-country":
        human = builder.pick(builder.humans, used)
        t = builder.night_time(human)
        episode = builder.episode(kind, True, [human.name], t, t)
        home = _TEAMS[human.team][1]
        place = _Place(
            builder._ip(builder._net("185")),
            rng.choice(_HOSTING + _HOTEL),
            rng.choice([c for c in _FAR if c != home]),
        )
        episode.end = _human_from_afar(
            builder, human, episode, t, place, prefix="o", events=(10, 40), gap=90.0
        )
    elif kind == "impossible-travel":
        human = builder.pick(builder.humans, used)
        t = builder.work_time(human)
        episode = builder.episode(kind, True, [human.name], t, t)
        home = _TEAMS[human.team][1]
        place = _Place(
            builder._ip(builder._net("91")),
            rng.choice(_HOSTING),
            rng.choice([c for c in _FAR if c != home]),
        )
        episode.end = _human_from_afar(
            builder,
            human,
            episode,
            t,
            place,
            prefix="i",
            events=(5, 20),
            gap=200.0,
            # the real person keeps working at home meanwhile
            meanwhile=lambda at: builder.human_event(
                human, at + rng.uniform(30, 300), "legit", remote=False
            ),
        )
    elif kind == "service-new-network":
        service = builder.pick(builder.services, used)
        t = builder.test_time()
        episode = builder.episode(kind, True, [service.name], t, t)
        place = _Place(
            builder._ip(builder._net("45")),
            rng.choice(_HOSTING),
            rng.choice(("US", "NL", "DE", "RU", "SG")),
        )
        ua = service.ua if rng.random() < 0.7 else rng.choice(_ATTACKER_UA)
        host = rng.choice(_EXFIL_HOSTS)
        for _ in range(builder.scaled(10, 30)):
            t += rng.uniform(10, 90)
            if rng.random() < 0.6:
                action, rtype, rid, size = rng.choice(service.jobs)
                builder.emit(
                    t,
                    service.name,
                    "service",
                    action,
                    rtype,
                    rid,
                    place,
                    ua,
                    nbytes=size,
                    attack=episode.id,
                )
            else:
                builder.emit(
                    t,
                    service.name,
                    "service",
                    "http.request",
                    "url",
                    host,
                    place,
                    ua,
                    nbytes=rng.uniform(1e4, 2e6),
                    attack=episode.id,
                )
        episode.end = t
    elif kind == "privilege-probing":
        population = builder.humans + builder.agents + builder.services
        who = builder.pick(population, used)
        t = builder.work_time(
            who if isinstance(who, _Human) else getattr(who, "owner", builder.humans[0])
        )
        episode = builder.episode(kind, True, [who.name], t, t)
        probes = [
            ("identity.role.assign", "identity", "admin"),
            ("policy.update", "policy", "default"),
            ("vault.item.read", "vault", "finance"),
            ("db.query", "db", "payments-prod"),
            ("iam.key.create", "account", "root"),
            ("vault.secret.read", "secret", "prod/root"),
            ("k8s.exec", "cluster", "prod"),
            ("repo.admin", "repo", "security-keys"),
        ]
        for _ in range(builder.scaled(15, 40)):
            t += rng.uniform(3, 30)
            action, rtype, rid = rng.choice(probes)
            outcome = "denied" if rng.random() < 0.8 else "success"
            _act_as(
                builder,
                who,
                t,
                action,
                rtype,
                rid,
                attack=episode.id,
                outcome=outcome,
                tool=action,
                session="p",
            )
        episode.end = t
    elif kind == "offboarded-owner":
        owners = [
            h
            for h in builder.humans
            if h.name not in used
            and any(a.owner is h for a in builder.agents)
            and not any(a.owner is h and a.name in used for a in builder.agents)
        ]
        owner = rng.choice(owners)
        used.add(owner.name)
        agents = [a for a in builder.agents if a.owner is owner]
        agent = rng.choice(agents)
        used.update(a.name for a in agents)
        suspended_at = builder.test_time(margin_days=3)
        owner.active_until = suspended_at
        for other in agents:
            other.active_until = suspended_at
        builder.emit(
            suspended_at,
            "secops.admin",
            "human",
            "identity.suspend",
            "identity",
            owner.name,
            _Place("10.0.0.1", "AS65100", "US"),
            "limen-cli/0.1",
            tool=None,
        )
        t = suspended_at + rng.uniform(1, 30) * _HOUR
        episode = builder.episode(kind, True, [agent.name], t, t)
        for _ in range(builder.scaled(3, 6)):
            session = f"z{rng.getrandbits(32):08x}"
            step = "^"
            chain = _CHAINS[agent.cls]
            for _ in range(rng.randint(3, 8)):
                choices = chain.get(step, (("$", 1.0),))
                step = rng.choices([c for c, _ in choices], [w for _, w in choices])[0]
                if step == "$":
                    break
                builder.agent_tool(agent, t, step, session, agent.ua, attack=episode.id)
                t += rng.uniform(2, 20)
            t += rng.uniform(600, 3600)
        episode.end = t
    elif kind == "slow-exfil":
        who = builder.pick(
            [a for a in builder.agents if a.cls != "coding"] + builder.services, used
        )
        t = builder.test_time(margin_days=4)
        episode = builder.episode(kind, True, [who.name], t, t)
        host = rng.choice(_EXFIL_HOSTS)
        stop = t + rng.uniform(2, 3) * _DAY
        while t < stop:
            if isinstance(who, _Agent):
                builder.agent_tool(
                    who,
                    t,
                    "http.post",
                    f"e{int(t) % 97}",
                    who.ua,
                    attack=episode.id,
                    target=("url", host),
                    nbytes=rng.uniform(5e5, 4e6),
                )
            else:
                builder.emit(
                    t,
                    who.name,
                    "service",
                    "storage.write",
                    "bucket",
                    f"s3://{host}",
                    who.place,
                    who.ua,
                    nbytes=rng.uniform(5e5, 4e6),
                    attack=episode.id,
                )
            t += rng.uniform(1800, 7200) / builder.p.attack_scale
        episode.end = t
    elif kind == "mimicry":
        if rng.random() < 0.5:
            human = builder.pick(builder.humans, used)
            t = builder.work_time(human)
            episode = builder.episode(kind, True, [human.name], t, t)
            place = _Place(
                builder._ip(builder._net("203")), rng.choice(_HOSTING), _TEAMS[human.team][1]
            )
            ua = (
                human.ua.replace("124.0", "123.0")
                if rng.random() < 0.3
                else rng.choice(_NEW_DEVICE_UA)
            )

            def now_and_then(at: float) -> None:
                if rng.random() < 0.3:
                    builder.human_event(human, at + rng.uniform(10, 200), "legit", remote=False)

            t = _human_from_afar(
                builder,
                human,
                episode,
                t,
                place,
                ua=ua,
                prefix="m",
                events=(20, 60),
                gap=120.0,
                meanwhile=now_and_then,
            )
        else:
            agent = builder.pick([a for a in builder.agents if a.place is not None], used)
            t = builder.work_time(agent.owner)
            episode = builder.episode(kind, True, [agent.name], t, t)
            place = _Place(builder._ip(builder._net("198")), rng.choice(_HOSTING), "US")
            ua = agent.ua if rng.random() < 0.5 else rng.choice(_ATTACKER_UA)
            for _ in range(builder.scaled(2, 5)):
                session = f"m{rng.getrandbits(32):08x}"
                step = "^"
                chain = _CHAINS[agent.cls]
                for _ in range(rng.randint(5, 15)):
                    choices = chain.get(step, (("$", 1.0),))
                    step = rng.choices([c for c, _ in choices], [w for _, w in choices])[0]
                    if step == "$":
                        break
                    builder.agent_tool(agent, t, step, session, ua, attack=episode.id, place=place)
                    t += rng.uniform(2, 20)
                t += rng.uniform(300, 1800)
        episode.end = t


def _act_as(
    builder: _Builder,
    who: Any,
    t: float,
    action: str,
    rtype: str,
    rid: str,
    *,
    attack: str,
    outcome: str = "success",
    tool: str | None = None,
    session: str | None = None,
) -> None:
    if isinstance(who, _Agent):
        builder.agent_tool(
            who,
            t,
            tool or action,
            session or "s",
            who.ua,
            attack=attack,
            target=(rtype, rid),
            outcome=outcome,
        )
    elif isinstance(who, _Service):
        place = who.place
        override = builder._override(who.overrides, t)
        if override is not None and override.place is not None:
            place = override.place
        builder.emit(
            t,
            who.name,
            "service",
            action,
            rtype,
            rid,
            place,
            who.ua,
            outcome=outcome,
            attack=attack,
        )
    else:
        builder.emit(
            t,
            who.name,
            "human",
            action,
            rtype,
            rid,
            who.office,
            who.ua,
            outcome=outcome,
            session=session,
            attack=attack,
        )


def simulate(
    seed: int = 1,
    params: SimulationParameters | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> Trace:
    """Generate a labelled trace (deterministic for a seed and parameters)."""
    p = params or SimulationParameters()
    builder = _Builder(seed, p)
    builder.build()
    builder.specs.insert(
        0,
        IdentitySpec(
            name="secops.admin",
            kind="human",
            owner=None,
            attributes={"team": "security"},
            email="secops.admin@example.com",
        ),
    )
    used: set[str] = set()
    for kind in p.benign_kinds:
        for _ in range(p.benign_per_kind):
            _benign(builder, kind, used)
    if progress:
        progress("normal activity")
    # Attack victims are chosen before normal activity so an offboarded owner's agents
    # stop when the owner is suspended; their events are added after it.
    attacks: list[Callable[[], None]] = []
    for kind in p.attack_kinds:
        for _ in range(p.attacks_per_kind):
            if kind == "offboarded-owner":
                _attack(builder, kind, used)
            else:
                attacks.append(lambda kind=kind: _attack(builder, kind, used))
    builder.normal_activity()
    for pending in builder.pending:
        pending()
    for attack in attacks:
        attack()
    return _finish(builder)


def _finish(builder: _Builder) -> Trace:
    builder.events.sort(key=lambda item: (item[0], item[1]))
    labels: dict[str, str] = {}
    by_id = {episode.id: episode for episode in builder.episodes}
    documents: list[dict[str, Any]] = []
    for index, (ts, _, document, attack, benign) in enumerate(builder.events):
        if ts >= builder.end + _DAY:
            continue
        event_id = f"ev{index:07d}"
        document["id"] = event_id
        document["occurred_at"] = datetime.fromtimestamp(ts, UTC).isoformat()
        documents.append(document)
        if attack is not None:
            labels[event_id] = attack
            by_id[attack].event_ids.append(event_id)
        elif benign is not None and benign in by_id:
            by_id[benign].event_ids.append(event_id)
    return Trace(
        identities=builder.specs,
        events=documents,
        labels=labels,
        episodes=builder.episodes,
        test_start=builder.test_start,
        end=builder.end,
    )


def small(**changes: Any) -> SimulationParameters:
    """Parameters for a small organisation: one episode of each kind, for tests."""
    base = SimulationParameters(
        humans=24,
        agents=28,
        services=10,
        learn_days=14,
        test_days=5,
        attacks_per_kind=1,
        benign_per_kind=1,
    )
    return replace(base, **changes)


def register(uow: UnitOfWork, actor: Actor, *, identities: Iterable[IdentitySpec]) -> int:
    """Create the organisation's identities in the store (owners first); returns how many.

    Identities that already exist by name are left as they are.
    """
    from limen import identity

    specs = sorted(identities, key=lambda spec: spec.owner is not None)
    created = 0
    for spec in specs:
        try:
            identity.get(uow.session, spec.name)
            continue
        except identity.IdentityNotFound:
            pass
        identity.create(
            uow,
            actor,
            kind=spec.kind,
            name=spec.name,
            email=spec.email,
            owner=spec.owner,
            attributes=dict(spec.attributes),
        )
        created += 1
    return created
