"""Response playbooks: when an alert fires, act at machine speed, within a blast radius.

A playbook is a small YAML (or JSON) document::

    description: contain agents that act far out of character
    match:
      min_score: 0.7            # or min_severity: medium (low < medium < high < critical)
      kinds: [agent, service]   # identity kinds (default: any)
      reasons: [owner-inactive] # any of these reason codes (default: any)
      identities: ["*-bot"]     # name patterns, shell-style (default: any)
      resources: ["db:*-prod"]  # a resource of the alert's events, type:id or type:name
      resource_tags: [sensitive] # a resource of the alert's events carries one of these
                                # operator tags (``limen resource tag``)
    actions: [suspend, notify]  # suspend | contain | revoke-tokens | require-fresh-token
                                # | notify | raise-threat
    threat_level: elevated      # what raise-threat raises the level to (default elevated)
    ssf: risk-level-change      # notify also sends this Shared Signals event (CAEP)
    mode: live                  # or dry-run: record what it would do, change nothing

The live detector hands every alert it raises to :meth:`PlaybookRunner.act` in the
transaction that stores the alert, so the alert and what its playbooks did commit together
(an alert is never seen, nor an identity left active, in between). For each playbook that
matches, in name order, each action runs in a savepoint of its own and records a
``playbook.run`` event naming the alert, the playbook, the action and whether it was a
dry run:

- ``suspend``: suspend the identity and revoke its tokens (``identity.suspend``, on every
  node at once, with Shared Signals to receivers);
- ``contain``: the same, and for a human, every agent and service it owns (a cascade);
- ``revoke-tokens``: revoke every token the identity holds and refuse every access token
  issued to it so far (``identity.cut_off``); it stays active;
- ``require-fresh-token``: refuse every token issued to it so far, revoking nothing: it
  stays active and a token it obtains from now on works;
- ``notify``: only the ``playbook.run`` event, which every sink (webhook, NATS, file)
  pushes to the SOC like any other event; with ``ssf: risk-level-change`` the Shared
  Signals transmitter also turns that event into a CAEP ``risk-level-change`` SET about
  the identity for every stream that asked for it (``respond/ssf/events.py``);
- ``raise-threat``: raise the platform's threat level to ``threat_level`` (never lowers it).

**The blast-radius guard.** Playbooks suspend at most ``max_per_minute`` identities in any
minute (``LIMEN_PLAYBOOK_SUSPENSIONS_PER_MINUTE``, counted from the log, so across the
cluster). Beyond it a playbook does not act: it records ``playbook.hold`` (outcome
``denied``) and writes on the alert that it asks a person, so a runaway detector cannot
suspend the company. Alerts raised by old events (history scored after a start) make no
playbook act.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
import yaml

from limen.audit import Actor, Authorizer, Outcome, Resource, record
from limen.errors import InvalidInput, NotFound
from limen.resources import check_tag, tags_of
from limen.respond import containment
from limen.respond.threat import LEVELS, set_level
from limen.store import Database, UnitOfWork
from limen.store.models import DetectAlert, Event, Identity, IdentityStatus, Playbook

if TYPE_CHECKING:
    from limen.detect.live import RaisedAlert

__all__ = [
    "ACTIONS",
    "PlaybookNotFound",
    "PlaybookRunner",
    "PlaybookSpec",
    "Playbooks",
    "parse_playbook",
    "playbook_document",
]

log = logging.getLogger(__name__)

ACTIONS: Final = (
    "suspend",
    "contain",
    "revoke-tokens",
    "require-fresh-token",
    "notify",
    "raise-threat",
)
SEVERITIES: Final = ("low", "medium", "high", "critical")
MODES: Final = ("live", "dry-run")
_SUSPENDING: Final = frozenset({"suspend", "contain"})
_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_ACTOR_PREFIX: Final = "playbook:"
_MATCH_KEYS: Final = frozenset(
    {"min_score", "min_severity", "kinds", "reasons", "identities", "resources", "resource_tags"}
)
SSF_EVENTS: Final = ("risk-level-change",)
"""What ``ssf`` may name: the Shared Signals event a ``notify`` also sends."""
_KINDS: Final = ("human", "agent", "service")


class PlaybookNotFound(NotFound):
    code = "playbook-not-found"


@dataclass(frozen=True, slots=True)
class PlaybookSpec:
    """A parsed playbook."""

    description: str
    min_score: float
    kinds: tuple[str, ...]
    reasons: tuple[str, ...]
    identities: tuple[str, ...]
    actions: tuple[str, ...]
    mode: str
    threat_level: str = "elevated"
    resources: tuple[str, ...] = ()
    resource_tags: tuple[str, ...] = ()
    ssf: str | None = None

    def matches(
        self,
        *,
        score: float,
        kind: str,
        reason_codes: Iterable[str],
        name: str,
        resources: Iterable[str] = (),
        resource_tags: Iterable[str] = (),
    ) -> bool:
        """``resource_tags``: the operator's tags on the resources of the alert's events."""
        if score < self.min_score:
            return False
        if self.kinds and kind not in self.kinds:
            return False
        if self.reasons and not set(self.reasons) & set(reason_codes):
            return False
        if self.resources and not any(
            fnmatch.fnmatchcase(resource, pattern)
            for resource in resources
            for pattern in self.resources
        ):
            return False
        if self.resource_tags and not set(self.resource_tags) & set(resource_tags):
            return False
        return not self.identities or any(fnmatch.fnmatchcase(name, p) for p in self.identities)

    def to_document(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "match": {
                "min_score": self.min_score,
                "kinds": list(self.kinds),
                "reasons": list(self.reasons),
                "identities": list(self.identities),
                "resources": list(self.resources),
                "resource_tags": list(self.resource_tags),
            },
            "actions": list(self.actions),
            "mode": self.mode,
            "threat_level": self.threat_level,
            "ssf": self.ssf,
        }


_SEVERITY_SCORES: Final = {"low": 0.0, "medium": 0.7, "high": 0.8, "critical": 0.9}


def parse_playbook(text: str) -> PlaybookSpec:
    """Read a playbook's YAML (or JSON); :class:`InvalidInput` names what is wrong."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"the playbook is not valid YAML{where}") from None
    if not isinstance(raw, Mapping):
        raise InvalidInput("a playbook is a mapping with match, actions and mode")
    unknown = set(raw) - {"description", "match", "actions", "mode", "threat_level", "ssf"}
    if unknown:
        raise InvalidInput(f"unknown playbook field(s): {', '.join(sorted(map(str, unknown)))}")
    match = raw.get("match") or {}
    if not isinstance(match, Mapping):
        raise InvalidInput("match: must be a mapping")
    unknown = set(match) - _MATCH_KEYS
    if unknown:
        raise InvalidInput(f"match: unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    if "min_score" in match and "min_severity" in match:
        raise InvalidInput("match: give min_score or min_severity, not both")
    if "min_severity" in match:
        severity = match["min_severity"]
        if severity not in SEVERITIES:
            raise InvalidInput(f"match.min_severity: one of {', '.join(SEVERITIES)}")
        min_score = _SEVERITY_SCORES[severity]
    else:
        min_score = match.get("min_score", 0.0)
        if isinstance(min_score, bool) or not isinstance(min_score, int | float):
            raise InvalidInput("match.min_score: a number between 0 and 1")
        if not 0.0 <= float(min_score) <= 1.0:
            raise InvalidInput("match.min_score: a number between 0 and 1")
    kinds = _strings(match.get("kinds"), "match.kinds")
    bad = [k for k in kinds if k not in _KINDS]
    if bad:
        raise InvalidInput(f"match.kinds: {bad[0]!r} is not one of {', '.join(_KINDS)}")
    actions = _strings(raw.get("actions"), "actions")
    if not actions:
        raise InvalidInput(f"actions: name at least one of {', '.join(ACTIONS)}")
    bad = [a for a in actions if a not in ACTIONS]
    if bad:
        raise InvalidInput(f"actions: {bad[0]!r} is not one of {', '.join(ACTIONS)}")
    threat = raw.get("threat_level", "elevated")
    if threat not in LEVELS[1:]:
        raise InvalidInput(f"threat_level: one of {', '.join(LEVELS[1:])}")
    mode = raw.get("mode", "live")
    if mode not in MODES:
        raise InvalidInput("mode: live or dry-run")
    ssf = raw.get("ssf")
    if ssf is not None:
        if ssf not in SSF_EVENTS:
            raise InvalidInput(f"ssf: one of {', '.join(SSF_EVENTS)}")
        if "notify" not in actions:
            raise InvalidInput("ssf: the notify action sends it; add notify to actions")
    description = raw.get("description") or ""
    if not isinstance(description, str) or len(description) > 500:
        raise InvalidInput("description: text of at most 500 characters")
    return PlaybookSpec(
        description=description,
        min_score=float(min_score),
        kinds=kinds,
        reasons=_strings(match.get("reasons"), "match.reasons"),
        identities=_strings(match.get("identities"), "match.identities"),
        actions=actions,
        mode=mode,
        threat_level=threat,
        resources=_strings(match.get("resources"), "match.resources"),
        resource_tags=_tags(match.get("resource_tags")),
        ssf=ssf,
    )


def _tags(value: Any) -> tuple[str, ...]:
    return tuple(
        check_tag(t, where="match.resource_tags") for t in _strings(value, "match.resource_tags")
    )


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInput(f"{where}: a list of names")
    if len(value) > 100:
        raise InvalidInput(f"{where}: at most 100 entries")
    return tuple(value)


def _spec(row: Playbook) -> PlaybookSpec:
    document = dict(row.spec)
    match = document.get("match") or {}
    return PlaybookSpec(
        description=document.get("description", ""),
        min_score=float(match.get("min_score", 0.0)),
        kinds=tuple(match.get("kinds") or ()),
        reasons=tuple(match.get("reasons") or ()),
        identities=tuple(match.get("identities") or ()),
        actions=tuple(document.get("actions") or ()),
        mode=row.mode,
        threat_level=document.get("threat_level", "elevated"),
        resources=tuple(match.get("resources") or ()),
        resource_tags=tuple(match.get("resource_tags") or ()),
        ssf=document.get("ssf"),
    )


def playbook_document(row: Playbook) -> dict[str, Any]:
    return {
        "name": row.name,
        **_spec(row).to_document(),
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


class Playbooks:
    """Adding, listing, showing, removing and testing playbooks, through the guard."""

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def put(self, actor: Actor, name: str, text: str, *, mode: str | None = None) -> dict[str, Any]:
        """Add or replace a playbook; ``mode`` overrides the document's."""
        if not _NAME.match(name or ""):
            raise InvalidInput(
                "a playbook name is lowercase letters, digits, '.', '_' and '-' (at most 100)"
            )
        spec = parse_playbook(text)
        if mode is not None:
            if mode not in MODES:
                raise InvalidInput("mode: live or dry-run")
            spec = PlaybookSpec(**{**_fields(spec), "mode": mode})
        self._guard.authorize(actor, "playbook.write", Resource("playbook", name=name))
        with self._db.unit_of_work() as uow:
            row = uow.session.get(Playbook, name)
            if row is None:
                row = Playbook(name=name, created_by=actor.name)
                uow.session.add(row)
            document = spec.to_document()
            row.spec = {k: v for k, v in document.items() if k != "mode"}
            row.mode = spec.mode
            row.updated_at = datetime.now(UTC)
            uow.flush()
            record(
                uow.session,
                actor,
                "playbook.put",
                resource_type="playbook",
                resource_name=name,
                context={"mode": spec.mode, "actions": list(spec.actions)},
            )
            return playbook_document(row)

    def list(self, actor: Actor) -> list[dict[str, Any]]:
        self._guard.authorize(actor, "playbook.read", Resource("playbook"))
        with self._db.unit_of_work(readonly=True) as uow:
            rows = uow.session.scalars(sa.select(Playbook).order_by(Playbook.name))
            return [playbook_document(row) for row in rows]

    def get(self, actor: Actor, name: str) -> dict[str, Any]:
        self._guard.authorize(actor, "playbook.read", Resource("playbook", name=name))
        with self._db.unit_of_work(readonly=True) as uow:
            return playbook_document(_row(uow.session, name))

    def remove(self, actor: Actor, name: str) -> None:
        self._guard.authorize(actor, "playbook.write", Resource("playbook", name=name))
        with self._db.unit_of_work() as uow:
            uow.session.delete(_row(uow.session, name))
            record(
                uow.session, actor, "playbook.remove", resource_type="playbook", resource_name=name
            )

    def test(self, actor: Actor, name: str, alert_id: str) -> dict[str, Any]:
        """What the playbook would do for an alert (already raised): nothing is changed."""
        self._guard.authorize(actor, "playbook.read", Resource("playbook", name=name))
        with self._db.unit_of_work(readonly=True) as uow:
            spec = _spec(_row(uow.session, name))
            alert = uow.session.get(DetectAlert, alert_id)
            if alert is None:
                raise NotFound(f"no alert {alert_id!r}")
            codes = [r.get("code") for r in alert.reasons or []]
            resources: list[str] = []
            for rtype, rid, rname in uow.session.execute(
                sa.select(Event.resource_type, Event.resource_id, Event.resource_name).where(
                    Event.id.in_(list(alert.event_ids or []))
                )
            ):
                resources += [f"{rtype or ''}:{value}" for value in (rid, rname) if value]
            matched = spec.matches(
                score=alert.score,
                kind=alert.kind,
                reason_codes=codes,
                name=alert.identity_name,
                resources=resources,
                resource_tags=tags_of(uow.session, resources) if spec.resource_tags else (),
            )
        return {
            "playbook": name,
            "alert": alert_id,
            "identity": alert.identity_name,
            "matches": matched,
            "would": list(spec.actions) if matched else [],
            "mode": spec.mode,
        }


def _fields(spec: PlaybookSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in PlaybookSpec.__slots__}


def _row(session: Any, name: str) -> Playbook:
    row = session.get(Playbook, name)
    if row is None:
        raise PlaybookNotFound(f"no playbook {name!r}")
    return row


class PlaybookRunner:
    """Runs the playbooks for alerts just raised, in the transaction that stores them."""

    def __init__(
        self,
        db: Database,
        *,
        max_per_minute: int,
    ) -> None:
        self._db = db
        self.max_per_minute = max_per_minute

    def act(self, uow: UnitOfWork, alerts: Sequence[RaisedAlert]) -> None:
        """Run every matching playbook's actions for ``alerts``, in ``uow`` (the live
        detector's, before it commits): the alert and what its playbooks did commit
        together. Each action runs in a savepoint of its own, so one that fails is
        undone alone and logged."""
        live = [a for a in alerts if a.live and a.identity_id is not None]
        if not live:
            return
        session = uow.session
        books = [
            (row.name, _spec(row))
            for row in session.scalars(sa.select(Playbook).order_by(Playbook.name))
        ]
        # Tags are looked up only when a playbook asks for them: most alerts need none.
        tagged = any(spec.resource_tags for _, spec in books)
        for alert in live:
            tags = tags_of(session, alert.resources) if tagged else frozenset()
            for name, spec in books:
                if not spec.matches(
                    score=alert.score,
                    kind=alert.kind,
                    reason_codes=alert.reason_codes,
                    name=alert.identity_name,
                    resources=alert.resources,
                    resource_tags=tags,
                ):
                    continue
                for action in spec.actions:
                    try:
                        with session.begin_nested():
                            self._run(uow, name, spec, action, alert)
                    except Exception:
                        log.warning(
                            "playbook %s could not %s %s",
                            name,
                            action,
                            alert.identity_name,
                            exc_info=True,
                        )

    def _run(
        self, uow: UnitOfWork, name: str, spec: PlaybookSpec, action: str, alert: RaisedAlert
    ) -> None:
        actor = Actor.system(f"{_ACTOR_PREFIX}{name}")
        dry = spec.mode == "dry-run"
        context = {
            "alert": alert.id,
            "playbook": name,
            "action": action,
            "dry_run": dry,
            "score": round(alert.score, 4),
            "reasons": list(alert.reason_codes),
        }
        if action == "notify" and spec.ssf:
            # What the Shared Signals transmitter reads to build the SET (ssf/events.py).
            context["ssf"] = spec.ssf
            context["severity"] = alert.severity
        assert alert.identity_id is not None
        session = uow.session
        if action in _SUSPENDING and not dry:
            target = session.get(Identity, alert.identity_id)
            if target is None or target.status != IdentityStatus.ACTIVE:
                return  # already contained (by an earlier action or a person)
            used = self._suspensions_in_last_minute(session)
            if used >= self.max_per_minute:
                why = (
                    f"blast-radius guard: {used} suspensions by playbooks in the last "
                    f"minute (at most {self.max_per_minute}); a person must decide"
                )
                record(
                    session,
                    actor,
                    "playbook.hold",
                    resource_type="identity",
                    resource_id=alert.identity_id,
                    resource_name=alert.identity_name,
                    outcome=Outcome.DENIED,
                    reason=why,
                    context=context,
                )
                row = session.get(DetectAlert, alert.id)
                if row is not None:
                    row.note = f"playbook {name} wants to {action}: {why}"
                return
            containment.contain(
                uow,
                actor,
                alert.identity_id,
                reason=f"alert {alert.id} ({alert.severity}), playbook {name}",
                cascade=action == "contain",
                via="playbook",
            )
        why = f"alert {alert.id} ({alert.severity}), playbook {name}"
        if action == "revoke-tokens" and not dry:
            context["revoked_tokens"] = containment.revoke_tokens(
                uow, actor, alert.identity_id, reason=why
            )
        if action == "require-fresh-token" and not dry:
            containment.require_fresh_token(uow, actor, alert.identity_id, reason=why)
        if action == "raise-threat" and not dry:
            context["threat_level"] = spec.threat_level
            set_level(
                uow,
                actor,
                spec.threat_level,
                reason=f"alert {alert.id} ({alert.severity}), playbook {name}",
                only_raise=True,
            )
        record(
            session,
            actor,
            "playbook.run",
            resource_type="identity",
            resource_id=alert.identity_id,
            resource_name=alert.identity_name,
            reason=why,
            context=context,
        )

    def _suspensions_in_last_minute(self, session: Any) -> int:
        since = datetime.now(UTC) - timedelta(minutes=1)
        return (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(Event)
                .where(
                    Event.action == "identity.suspend",
                    Event.actor_name.like(f"{_ACTOR_PREFIX}%"),
                    Event.occurred_at >= since,
                )
            )
            or 0
        )
