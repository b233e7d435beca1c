"""The policy decision point: status first, then Cedar, for the subject and everyone behind it.

A decision runs in this order and stops at the first denial:

1. the subject must be a known identity; a presented token must be valid and name it;
2. the subject, every identity its token acts for, and an agent's owner must be active
   (suspended identities and revoked tokens are denied before policy);
3. Cedar must permit the subject *and* each of those identities: an agent never gets
   more than its owner (or the human it acts for) would, whatever its own policies say.

Steps 1 and 2 run on every decision, against the live :class:`StatusView`; they are
never cached, so a decision after a suspension or revocation reflects it at once. Only
step 3, Cedar's answer, is cached, keyed on everything Cedar is given: the policy-set
generation, the principals (the token's chain, owners), the action, the resource and
its properties, the context, and the very identity rows (kind, status, owner, roles,
risk) that became Cedar entities. A hit is used only if those rows are still the ones
the status view holds, so an identity change invalidates exactly what it affects.

Cedar is called with pre-parsed handles: the policy set is compiled once per policy
change; the principals' entities are parsed once per version of their rows and the
resource is added per decision as a small delta. Cedar is given only what some statement
can see: no resource entity while every statement looks at just the resource's type and
id, and no context while none names ``context`` (see :class:`CompiledPolicies`). A batch
(``decide_many``) evaluates the questions that share principals and resource in one
Cedar call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cedarpy
import sqlalchemy as sa

from limen.access._cedar import Answer, authorize
from limen.access._decision_log import DecisionLog, record_decision
from limen.access.authzen.evaluation import Evaluation, EvaluationsRequest, Invalid
from limen.access.authzen.search import SearchRequest, search_page
from limen.access.policies import (
    DEFAULT_POLICIES,
    CompiledPolicies,
    compile_policies,
    schema_fragments,
)
from limen.access.schema import NAMESPACE
from limen.audit import Actor
from limen.audit.durable import EventWriter
from limen.errors import LimenError, Unavailable
from limen.identity.status import POLICIES_TOPIC, IdentityInfo, StatusView
from limen.ids import is_id
from limen.store import Database, UnitOfWork
from limen.store.models import Event, Policy, Vault, VaultItem

__all__ = ["Decision", "PolicyDecisionPoint", "TokenChain"]

TokenChain = Callable[[str], tuple[str, ...]]
"""Verify a raw access token; return its identities, current actor first, subject last."""

_IDENTITY_TYPES: Final = frozenset({"identity", "user", "human", "agent", "service"})
_RESOURCE_TYPES: Final = {"identity": "Identity", "vault": "Vault", "item": "Item", "tool": "Tool"}
_IDENTITY: Final = f"{NAMESPACE}::Identity"
_ACTION: Final = f"{NAMESPACE}::Action"
_SUBJECT_KINDS: Final = {"user": "human", "human": "human", "agent": "agent", "service": "service"}
_SEARCH_LIMIT: Final = 10_000
_CACHE_LIMIT: Final = 100_000
_BASE_LIMIT: Final = 10_000
_REACH_CHUNK: Final = 1_000
"""Questions :meth:`PolicyDecisionPoint.reach` asks Cedar with one set of entities."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one evaluation; ``reason`` is a stable code, ``policies`` name the
    determining Cedar statements (``<policy>#<n>``)."""

    allowed: bool
    reason: str
    policies: tuple[str, ...] = ()
    error: str | None = None
    """Why a batch entry could not be evaluated (reason ``invalid_evaluation``)."""

    def to_authzen(self) -> dict[str, Any]:
        """AuthZEN §6.2 response: ``{"decision": bool, "context": {...}}``."""
        context: dict[str, Any] = {"reason": self.reason}
        if self.policies:
            context["policies"] = list(self.policies)
        if self.error:
            context["error"] = self.error
        return {"decision": self.allowed, "context": context}


def _deny(reason: str) -> Decision:
    return Decision(False, reason)


_Rows = tuple[Any, ...]
"""What a cached Cedar answer was computed from: the identity rows and resolved ids."""


@dataclass(slots=True)
class _Pending:
    """An evaluation that passed the status checks and needs Cedar's answer."""

    key: tuple[Any, ...]
    rows: _Rows
    generation: int
    principals: tuple[IdentityInfo, ...]
    delegated_for: tuple[str, ...]
    base: cedarpy.Entities | None
    delta: str
    requests: list[dict[str, Any]]
    members: tuple[IdentityInfo, ...] = ()
    """Everyone whose row is an entity in ``base``."""
    remember: bool = True
    """Whether Cedar's answer joins the decision cache (not for a review's questions)."""


class PolicyDecisionPoint:
    """Decides AuthZEN evaluations against the stored Cedar policies and live status."""

    def __init__(
        self,
        db: Database,
        *,
        status: StatusView,
        events: EventWriter,
        token_chain: TokenChain | None = None,
        threat_level: Callable[[], str] | None = None,
    ) -> None:
        self._db = db
        self.status = status
        self._token_chain = token_chain
        self._threat_level = threat_level
        """The platform's threat level, in memory: Cedar sees it as ``context.threat_level``."""
        self._lock = threading.Lock()
        self._policies: tuple[int, CompiledPolicies] | None = None
        self._generation = 0
        self._cache: dict[tuple[Any, ...], tuple[int, _Rows, Decision]] = {}
        self._entities: dict[str, tuple[IdentityInfo, str]] = {}
        self._bases: dict[tuple[str, ...], tuple[tuple[IdentityInfo, ...], cedarpy.Entities]] = {}
        self._log = DecisionLog(events)
        status.on_change(self._on_change)
        self._load_policies()

    # -- state ---------------------------------------------------------------------

    def _on_change(self, topic: str, _ident: str | None) -> None:
        # Status changes need nothing here: status is checked live, and a cached Cedar
        # answer is only used while the identity rows it was computed from are current.
        # A policy change is compiled here, in the thread that heard of it, so that no
        # decision waits on the database.
        if topic == POLICIES_TOPIC:
            self._load_policies()

    def _load_policies(self) -> None:
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._cache = {}
        with self._db.unit_of_work(readonly=True) as uow:
            stored = [
                (p.name, p.text)
                for p in uow.session.scalars(sa.select(Policy).where(Policy.realm == "access"))
            ]
            fragments = schema_fragments(uow.session)
        compiled = compile_policies(
            [*DEFAULT_POLICIES.items(), *sorted(stored)], fragments=fragments
        )
        with self._lock:
            if self._generation == generation:
                self._policies = generation, compiled

    def policies(self) -> tuple[int, CompiledPolicies]:
        """The policy set, compiled, and the generation it is; a decision uses one pair
        throughout, so what it caches is keyed on the policies it was computed with."""
        current = self._policies
        while current is None:  # a change is being compiled right now
            self._load_policies()
            current = self._policies
        return current

    # -- deciding ------------------------------------------------------------------

    def decide(self, evaluation: Evaluation) -> Decision:
        """Decide one evaluation; never raises for a bad subject or resource (it denies).

        Raises :class:`~limen.errors.Unavailable` rather than permit while status cannot
        be confirmed current (a denial stands whatever else changed meanwhile).
        """
        policies = self.policies()
        prepared = self._prepare(evaluation, policies)
        if isinstance(prepared, Decision):
            return self._confirmed(prepared)
        return self._confirmed(self._evaluate_group(policies[1].policy_set, [prepared])[0])

    def _confirmed(self, decision: Decision) -> Decision:
        if decision.allowed and not self.status.is_current():
            raise Unavailable("identity status cannot be confirmed right now; retry shortly")
        return decision

    def decide_many(self, request: EvaluationsRequest) -> list[Decision]:
        """AuthZEN §7: decide in order, stopping early as the semantic asks.

        Status checks and the cache run per evaluation; what is left for Cedar is
        evaluated together, one Cedar call per group sharing principals and resource.
        A malformed entry (:class:`Invalid`) is denied with reason ``invalid_evaluation``.
        """
        policies = self.policies()
        semantic = request.semantic
        prepared: list[Decision | _Pending] = []
        for evaluation in request.evaluations:
            if isinstance(evaluation, Invalid):
                item: Decision | _Pending = Decision(
                    False, "invalid_evaluation", error=evaluation.error
                )
            else:
                item = self._prepare(evaluation, policies)
            prepared.append(item)
            if isinstance(item, Decision) and _stops(semantic, item):
                break
        pending = [item for item in prepared if isinstance(item, _Pending)]
        answers = iter(self._evaluate(policies[1].policy_set, pending))
        decisions: list[Decision] = []
        for item in prepared:
            decision = item if isinstance(item, Decision) else next(answers)
            decisions.append(self._confirmed(decision))
            if _stops(semantic, decision):
                break
        return decisions

    # -- reach (the access review) ------------------------------------------------------

    def reach(self, subjects: Sequence[tuple[str, str]]) -> dict[str, dict[str, bool]]:
        """Which policies let each subject (AuthZEN type and id) through, as this PDP
        decides: the probe of every ``permit`` statement (:class:`~limen.access.policies.Probe`)
        is decided for every subject, with its status and its owner's as in any decision,
        and the allowed decisions name the statements that permitted them.

        Maps each subject id to ``{policy name: whether that statement is for every
        principal}``. A report, not an enforcement: it answers while the status view
        catches up, and records nothing. Its questions bypass the decision cache and the
        entity cache (neither read nor filled), so a review of any size leaves the live
        decisions' caches as they were.
        """
        policies = self.policies()
        compiled = policies[1]
        asked: list[tuple[str, Decision | _Pending]] = []
        for subject_type, subject_id in subjects:
            for probe in compiled.probes:
                evaluation = Evaluation(
                    subject_type,
                    subject_id,
                    probe.action,
                    probe.resource_type,
                    probe.resource_id,
                    resource_properties=dict(probe.properties),
                )
                asked.append(
                    (subject_id, self._prepare(evaluation, policies, entities=False, cache=False))
                )
        pending = [item for _, item in asked if isinstance(item, _Pending)]
        # One set of entities for every question, parsed by Cedar once: a set per
        # identity (as single decisions cache them) costs more to parse than to decide.
        for start in range(0, len(pending), _REACH_CHUNK):
            chunk = pending[start : start + _REACH_CHUNK]
            members = {info.id: info for item in chunk for info in item.members}
            base = cedarpy.Entities.from_json_str(
                "["
                + ",".join(self._entity_json(info, keep=False) for info in members.values())
                + "]"
            )
            for item in chunk:
                item.base = base
        answers = iter(self._evaluate(compiled.policy_set, pending))
        reached: dict[str, dict[str, bool]] = {subject_id: {} for _, subject_id in subjects}
        for subject_id, item in asked:
            decision = item if isinstance(item, Decision) else next(answers)
            if decision.allowed:
                for statement in decision.policies:
                    name = statement.split("#", 1)[0]
                    everyone = statement in compiled.for_everyone
                    reached[subject_id][name] = reached[subject_id].get(name, True) and everyone
        return reached

    # -- searching (AuthZEN §8) ---------------------------------------------------------

    def search(self, request: SearchRequest) -> dict[str, Any]:
        """A page of the subjects, resources or actions ``request`` permits.

        Blocking (resources are read from the database): call it from a thread."""
        return search_page(request, self._candidates(request), self.decide_many)

    def _candidates(self, request: SearchRequest) -> list[dict[str, str]]:
        template = request.template
        if request.kind == "action":
            return [{"name": name} for name in self.policies()[1].actions]
        if request.kind == "subject":
            wanted = template.subject_type.lower()
            if wanted not in _IDENTITY_TYPES:
                return []
            kind = _SUBJECT_KINDS.get(wanted)
            infos = (self.status.identity(i) for i in self.status.known_identities())
            names = sorted(i.name for i in infos if i and (kind is None or i.kind == kind))
            return [{"type": template.subject_type, "id": name} for name in names]
        return [
            {"type": template.resource_type, "id": resource_id}
            for resource_id in self._resource_ids(template.resource_type)
        ]

    def _resource_ids(self, resource_type: str) -> list[str]:
        """Every id of this resource type Limen knows: its vaults (by name), items,
        identities (by name), and whatever PEPs have asked about."""
        kind = _RESOURCE_TYPES.get(resource_type.lower())
        if kind == "Identity":
            return sorted(filter(None, map(self._name_of, self.status.known_identities())))
        with self._db.unit_of_work(readonly=True) as uow:
            session = uow.session
            if kind == "Vault":
                query = sa.select(Vault.name)
            elif kind == "Item":
                query = sa.select(VaultItem.id).where(VaultItem.deleted_at.is_(None))
            else:
                query = (
                    sa.select(Event.resource_id)
                    .where(
                        Event.action == "access.evaluate",
                        Event.resource_type == resource_type[:50],
                        Event.resource_id.is_not(None),
                    )
                    .distinct()
                )
            ids = session.scalars(query.limit(_SEARCH_LIMIT)).all()
        return sorted(ids)

    def _name_of(self, identity_id: str) -> str | None:
        info = self.status.identity(identity_id)
        return info.name if info else None

    def evaluate(self, uow: UnitOfWork, actor: Actor, evaluation: Evaluation) -> Decision:
        """Decide and record the decision as an ``access.evaluate`` event in ``uow``."""
        decision = self.decide(evaluation)
        self._record(uow, actor, evaluation, decision)
        return decision

    def evaluate_many(
        self, uow: UnitOfWork, actor: Actor, request: EvaluationsRequest
    ) -> list[Decision]:
        decisions = self.decide_many(request)
        for evaluation, decision in zip(request.evaluations, decisions, strict=False):
            if isinstance(evaluation, Evaluation):
                self._record(uow, actor, evaluation, decision)
        return decisions

    def _record(
        self, uow: UnitOfWork, actor: Actor, evaluation: Evaluation, decision: Decision
    ) -> None:
        record_decision(uow.session, actor, evaluation, decision)

    @property
    def log(self) -> DecisionLog:
        """Group-committing writer for decision events (see :mod:`._decision_log`)."""
        return self._log

    def _prepare(
        self,
        evaluation: Evaluation,
        policies: tuple[int, CompiledPolicies],
        *,
        entities: bool = True,
        cache: bool = True,
    ) -> Decision | _Pending:
        """Live status checks, then the cache; what is left is Cedar's to answer.
        Without ``entities``, the caller sets the pending question's ``base`` (one for
        many questions: see :meth:`reach`); without ``cache``, the decision cache is
        neither read nor filled and no entity is kept."""
        if evaluation.subject_type.lower() not in _IDENTITY_TYPES:
            return _deny("subject_type_unsupported")
        status = self.status
        subject_id = self._resolve(evaluation.subject_id)
        subject = status.identity(subject_id) if subject_id else None
        if subject is None:
            return _deny("subject_unknown")

        context = evaluation.context
        chain: tuple[str, ...] = (subject.id,)
        token = context.get("token")
        if token is not None:
            if self._token_chain is None or not isinstance(token, str):
                return _deny("token_invalid")
            try:
                chain = self._token_chain(token)
            except Unavailable:
                raise
            except LimenError:
                return _deny("token_invalid")
            if chain[0] != subject.id:
                return _deny("token_subject_mismatch")
        token_id = context.get("token_id")
        if isinstance(token_id, str) and status.is_token_revoked(token_id):
            return _deny("token_revoked")

        principals: list[IdentityInfo] = [subject]
        for identity_id in chain[1:]:
            info = status.identity(identity_id)
            if info is None:
                return _deny("subject_unknown")
            principals.append(info)
        # Everyone whose row becomes a Cedar entity: the principals and their owners.
        members = {info.id: info for info in principals}
        # Agents (and services) never exceed their owner's rights: owners are principals too.
        for info in tuple(principals):
            owner_id = info.owner_id
            if owner_id and owner_id not in members:
                owner = status.identity(owner_id)
                if owner is None:
                    return _deny("owner_unknown")
                principals.append(owner)
                members[owner_id] = owner
        for info in principals:
            if status.standing_of(info) is not None:
                return _deny("subject_not_active" if info.id == subject.id else "owner_not_active")
        for info in principals[len(chain) :]:
            owner_id = info.owner_id
            if owner_id and owner_id not in members:
                owner = status.identity(owner_id)
                if owner is not None:
                    members[owner_id] = owner
        target_id: str | None = None
        target: IdentityInfo | None = None
        if _RESOURCE_TYPES.get(evaluation.resource_type.lower()) == "Identity":
            target_id = self._resolve(evaluation.resource_id)
            target = status.identity(target_id) if target_id else None
        rows: _Rows = (*members.values(), target_id, target)
        generation, compiled = policies
        # The key is every request input Cedar sees (the raw token aside: ``chain`` is
        # what it means); the identity rows are checked against ``rows`` on a hit.
        # When no statement names the context, Cedar is not given one.
        context_json = None
        if compiled.reads_context:
            if self._threat_level is not None:
                context = {**context, "threat_level": self._threat_level()}
            context_json = _context_json(context, chain[1:], evaluation)
        properties = evaluation.resource_properties
        key = (
            chain,
            evaluation.action,
            evaluation.resource_type,
            evaluation.resource_id,
            _canonical(properties) if properties else "",
            context_json,
        )
        cached = self._cache.get(key) if cache else None
        if cached is not None and cached[0] == generation and cached[1] == rows:
            return cached[2]

        base = self._base(members) if entities else None
        if target is not None:
            resource_uid = {"type": _IDENTITY, "id": target.id}
        else:
            resource_uid = _resource_uid(evaluation, compiled.entity_types)
        if not compiled.reads_resource:
            # No statement looks past the resource's type and id: Cedar needs no entity.
            delta = ""
        elif target is not None:
            delta = self._entity_json(target, keep=cache) if target.id not in members else ""
        else:
            delta = _resource_entities(evaluation, resource_uid, compiled.entity_types)
        question: dict[str, Any] = {
            "action": {"type": _ACTION, "id": evaluation.action},
            "resource": resource_uid,
        }
        if context_json is not None:
            question["context"] = context_json
        requests = [
            {"principal": {"type": _IDENTITY, "id": info.id}, **question} for info in principals
        ]
        delegated_for = chain[1:]
        return _Pending(
            key,
            rows,
            generation,
            tuple(principals),
            delegated_for,
            base,
            delta,
            requests,
            tuple(members.values()),
            remember=cache,
        )

    def _evaluate(self, policies: cedarpy.PolicySet, pending: Sequence[_Pending]) -> list[Decision]:
        """Cedar's answers for ``pending``, one call per group with the same entities."""
        groups: dict[tuple[int, str], list[_Pending]] = {}
        for item in pending:
            groups.setdefault((id(item.base), item.delta), []).append(item)
        answers: dict[int, Decision] = {}
        for group in groups.values():
            answers.update(zip(map(id, group), self._evaluate_group(policies, group), strict=True))
        return [answers[id(item)] for item in pending]

    def _evaluate_group(
        self, policies: cedarpy.PolicySet, group: Sequence[_Pending]
    ) -> list[Decision]:
        """Evaluate questions that share principals' entities and resource in one call."""
        first = group[0]
        base = first.base
        assert base is not None  # set by _prepare, or by reach
        try:
            entities = base.with_added_json_str(f"[{first.delta}]") if first.delta else base
        except ValueError:
            return [_deny("evaluation_error")] * len(group)
        requests = [request for item in group for request in item.requests]
        answers = authorize(requests, policies, entities)
        decisions = []
        offset = 0
        for item in group:
            count = len(item.requests)
            decisions.append(self._remember(item, answers[offset : offset + count]))
            offset += count
        return decisions

    def _remember(self, item: _Pending, answers: Sequence[Answer]) -> Decision:
        decision = _conclude(item.principals, item.delegated_for, answers)
        if not item.remember:
            return decision
        with self._lock:
            if self._generation == item.generation:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache = {}
                self._cache[item.key] = (item.generation, item.rows, decision)
        return decision

    def _resolve(self, ref: str) -> str | None:
        return ref if is_id(ref) else self.status.resolve(ref)

    def _base(self, members: dict[str, IdentityInfo]) -> cedarpy.Entities:
        """The identities' entities, parsed by Cedar once per version of their rows."""
        ids = tuple(members)
        rows = tuple(members.values())
        cached = self._bases.get(ids)
        if cached is not None and cached[0] == rows:
            return cached[1]
        text = "[" + ",".join(self._entity_json(info) for info in rows) + "]"
        handle = cedarpy.Entities.from_json_str(text)
        if len(self._bases) >= _BASE_LIMIT:
            self._bases = {}
        self._bases[ids] = (rows, handle)
        return handle

    def _entity_json(self, info: IdentityInfo, *, keep: bool = True) -> str:
        """An identity's Cedar entity as JSON, kept per version of its row (unless not
        ``keep``: a review's identities must not push the live decisions' out)."""
        cached = self._entities.get(info.id)
        if cached is not None and (cached[0] is info or cached[0] == info):
            return cached[1]
        text = json.dumps(_identity_entity(info))
        if not keep:
            return text
        if len(self._entities) >= _CACHE_LIMIT:
            self._entities = {}
        self._entities[info.id] = (info, text)
        return text


def _stops(semantic: str, decision: Decision) -> bool:
    if semantic == "deny_on_first_deny":
        return not decision.allowed
    if semantic == "permit_on_first_permit":
        return decision.allowed
    return False


# Built once: json.dumps() with any non-default option builds a new encoder per call.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode


def _conclude(
    principals: Sequence[IdentityInfo], delegated_for: tuple[str, ...], answers: Sequence[Answer]
) -> Decision:
    for answer in answers:
        if answer.failed:
            return _deny("evaluation_error")
    first = answers[0]
    if not first.allowed:
        return Decision(False, "forbidden" if first.reasons else "no_policy_permits", first.reasons)
    for info, answer in zip(principals[1:], answers[1:], strict=True):
        if not answer.allowed:
            return Decision(
                False,
                "delegator_denied" if info.id in delegated_for else "owner_denied",
                answer.reasons,
            )
    return Decision(True, "permitted", first.reasons)


def _resource_uid(evaluation: Evaluation, declared: frozenset[str]) -> dict[str, str]:
    """A non-identity resource's (or an unknown identity's) Cedar uid: a type a schema
    fragment declares is that entity type, exactly as spelled."""
    if evaluation.resource_type in declared:
        return {"type": f"{NAMESPACE}::{evaluation.resource_type}", "id": evaluation.resource_id}
    kind = _RESOURCE_TYPES.get(evaluation.resource_type.lower())
    if kind is None or kind == "Identity":
        kind = "Resource"
    return {"type": f"{NAMESPACE}::{kind}", "id": evaluation.resource_id}


def _resource_entities(
    evaluation: Evaluation, uid: dict[str, str], declared: frozenset[str]
) -> str:
    """The JSON of the entities :func:`_resource_uid` names: the resource, and an item's
    vault (its parent). A fragment's entity has the properties as its attributes."""
    properties = evaluation.resource_properties
    if evaluation.resource_type in declared:
        entity = {"uid": uid, "attrs": _cedar_value(properties), "parents": []}
        return _canonical([entity])[1:-1]
    attrs: dict[str, Any] = {"properties": _cedar_value(properties) if properties else {}}
    if uid["type"] == f"{NAMESPACE}::Resource":
        known = _RESOURCE_TYPES.get(evaluation.resource_type.lower()) == "Identity"
        attrs["type"] = "identity" if known else evaluation.resource_type
    entities = []
    parents = []
    vault = properties.get("vault")
    if uid["type"] == f"{NAMESPACE}::Item" and isinstance(vault, str):
        parents.append({"type": f"{NAMESPACE}::Vault", "id": vault})
        entities.append({"uid": parents[0], "attrs": {}, "parents": []})
    entities.append({"uid": uid, "attrs": attrs, "parents": parents})
    return _canonical(entities)[1:-1]


def _context_json(
    context: dict[str, Any], delegated_for: tuple[str, ...], evaluation: Evaluation
) -> str:
    """The request's context as Cedar sees it: the PEP's context, the raw token aside,
    the subject's and action's ``properties`` (``subject_properties``,
    ``action_properties``: what the PEP says, kept apart from what Limen knows of the
    identity), and who a delegated subject acts for."""
    if "token" in context:
        context = {k: v for k, v in context.items() if k != "token"}
    cedar_context = _cedar_value(context)
    if evaluation.subject_properties:
        cedar_context["subject_properties"] = _cedar_value(evaluation.subject_properties)
    if evaluation.action_properties:
        cedar_context["action_properties"] = _cedar_value(evaluation.action_properties)
    if delegated_for:
        cedar_context["delegated"] = True
        cedar_context["on_behalf_of"] = {"__entity": {"type": _IDENTITY, "id": delegated_for[-1]}}
    return _canonical(cedar_context)


def _identity_entity(info: IdentityInfo) -> dict[str, Any]:
    risk = info.attributes.get("risk", 0)
    attrs: dict[str, Any] = {
        "kind": info.kind,
        "name": info.name,
        "status": info.status,
        "risk": int(risk) if isinstance(risk, int | float) and not isinstance(risk, bool) else 0,
        "roles": list(info.roles),
    }
    groups = info.attributes.get("groups")
    if isinstance(groups, list):  # set by SCIM provisioning (limen.lifecycle)
        attrs["groups"] = [g for g in groups if isinstance(g, str)]
    if info.owner_id:
        attrs["owner"] = {"__entity": {"type": f"{NAMESPACE}::Identity", "id": info.owner_id}}
    if info.email:
        attrs["email"] = info.email
    custom = {k: v for k, v in info.attributes.items() if k != "risk"}
    if custom:
        attrs["attributes"] = _cedar_value(custom)
    return {"uid": {"type": f"{NAMESPACE}::Identity", "id": info.id}, "attrs": attrs, "parents": []}


def _cedar_value(value: Any) -> Any:
    """JSON from a PEP as a Cedar value: no floats or nulls in Cedar, no ``__`` escapes."""
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return str(value)
    if isinstance(value, list):
        return [v for v in map(_cedar_value, value) if v is not None]
    if isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            name = str(key)
            if not name.startswith("__") and (item_value := _cedar_value(item)) is not None:
                converted[name] = item_value
        return converted
    return None
