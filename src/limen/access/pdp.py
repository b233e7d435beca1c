"""The policy decision point: status first, then Cedar, for the subject and everyone behind it.

A decision runs in this order and stops at the first denial:

1. the subject must be a known identity; a presented token must be valid and name it;
2. the subject, every identity its token acts for, and an agent's owner must be active
   (suspended identities and revoked tokens are denied before policy);
3. Cedar must permit the subject *and* each of those identities: an agent never gets
   more than its owner (or the human it acts for) would, whatever its own policies say.

Decisions are cached until anything they could depend on changes: every status change
and every policy change clears the cache (on every node, see :class:`StatusView`), so
a cached answer is never stale. Requests carrying a raw token are not cached, because a
token also expires by time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cedarpy
import sqlalchemy as sa

from limen.access._decision_log import DecisionLog, record_decision
from limen.access.authzen.evaluation import Evaluation, EvaluationsRequest
from limen.access.policies import DEFAULT_POLICIES, compile_policies
from limen.access.schema import NAMESPACE
from limen.access.status import POLICIES_TOPIC, IdentityInfo, StatusView
from limen.audit import Actor
from limen.errors import LimenError
from limen.ids import is_id
from limen.store import Database, UnitOfWork
from limen.store.models import Identity, Policy

__all__ = ["Decision", "PolicyDecisionPoint", "TokenChain"]

TokenChain = Callable[[str], tuple[str, ...]]
"""Verify a raw access token; return its identities, current actor first, subject last."""

_IDENTITY_TYPES: Final = frozenset({"identity", "user", "human", "agent", "service"})
_RESOURCE_TYPES: Final = {"identity": "Identity", "vault": "Vault", "item": "Item", "tool": "Tool"}
_CACHE_LIMIT: Final = 100_000


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one evaluation; ``reason`` is a stable code, ``policies`` name the
    determining Cedar statements (``<policy>#<n>``)."""

    allowed: bool
    reason: str
    policies: tuple[str, ...] = ()

    def to_authzen(self) -> dict[str, Any]:
        """AuthZEN §6.2 response: ``{"decision": bool, "context": {...}}``."""
        context: dict[str, Any] = {"reason": self.reason}
        if self.policies:
            context["policies"] = list(self.policies)
        return {"decision": self.allowed, "context": context}


def _deny(reason: str) -> Decision:
    return Decision(False, reason)


class PolicyDecisionPoint:
    """Decides AuthZEN evaluations against the stored Cedar policies and live status."""

    def __init__(
        self, db: Database, *, status: StatusView, token_chain: TokenChain | None = None
    ) -> None:
        self._db = db
        self.status = status
        self._token_chain = token_chain
        self._lock = threading.Lock()
        self._policies: cedarpy.PolicySet | None = None
        self._cache: dict[tuple[Any, ...], Decision] = {}
        self._generation = 0
        self._names: dict[str, str] = {}
        self._entities: dict[str, tuple[IdentityInfo, str]] = {}
        self._log = DecisionLog(db)
        status.on_change(self._on_change)

    # -- state ---------------------------------------------------------------------

    def _on_change(self, topic: str, _ident: str | None) -> None:
        with self._lock:
            self._generation += 1
            self._cache = {}
            if topic == POLICIES_TOPIC:
                self._policies = None

    def policy_set(self) -> cedarpy.PolicySet:
        policies = self._policies
        if policies is None:
            with self._lock:
                generation = self._generation
            with self._db.unit_of_work(readonly=True) as uow:
                stored = [(p.name, p.text) for p in uow.session.scalars(sa.select(Policy))]
            policies = compile_policies([*DEFAULT_POLICIES.items(), *sorted(stored)])
            with self._lock:
                if self._generation == generation:
                    self._policies = policies
        return policies

    # -- deciding ------------------------------------------------------------------

    def decide(self, evaluation: Evaluation) -> Decision:
        """Decide one evaluation; never raises for a bad subject or resource (it denies)."""
        cacheable = "token" not in evaluation.context
        if cacheable:
            self.status.sync()
            key = evaluation.cache_key()
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            with self._lock:
                generation = self._generation
        decision = self._decide(evaluation)
        if cacheable:
            with self._lock:
                if self._generation == generation:
                    if len(self._cache) >= _CACHE_LIMIT:
                        self._cache = {}
                    self._cache[key] = decision
        return decision

    def decide_many(self, request: EvaluationsRequest) -> list[Decision]:
        """AuthZEN §7: decide in order, stopping early as the semantic asks."""
        decisions: list[Decision] = []
        for evaluation in request.evaluations:
            decision = self.decide(evaluation)
            decisions.append(decision)
            if request.semantic == "deny_on_first_deny" and not decision.allowed:
                break
            if request.semantic == "permit_on_first_permit" and decision.allowed:
                break
        return decisions

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

    def _decide(self, evaluation: Evaluation) -> Decision:
        # One catch-up per decision; every read below sees the same, current state.
        if "token" in evaluation.context:
            self.status.sync()
        if evaluation.subject_type.lower() not in _IDENTITY_TYPES:
            return _deny("subject_type_unsupported")
        subject_id = self._resolve(evaluation.subject_id)
        subject = self.status.identity_synced(subject_id) if subject_id else None
        if subject is None:
            return _deny("subject_unknown")

        chain: tuple[str, ...] = (subject.id,)
        token = evaluation.context.get("token")
        if token is not None:
            if self._token_chain is None or not isinstance(token, str):
                return _deny("token_invalid")
            try:
                chain = self._token_chain(token)
            except LimenError:
                return _deny("token_invalid")
            if chain[0] != subject.id:
                return _deny("token_subject_mismatch")
        token_id = evaluation.context.get("token_id")
        if isinstance(token_id, str) and self.status.is_token_revoked_synced(token_id):
            return _deny("token_revoked")

        principals: list[IdentityInfo] = []
        for identity_id in chain:
            info = self.status.identity_synced(identity_id)
            if info is None:
                return _deny("subject_unknown")
            principals.append(info)
        # Agents (and services) never exceed their owner's rights.
        for info in list(principals):
            if info.owner_id and all(p.id != info.owner_id for p in principals):
                owner = self.status.identity_synced(info.owner_id)
                if owner is None:
                    return _deny("owner_unknown")
                principals.append(owner)
        for info in principals:
            if not info.is_active:
                return _deny("subject_not_active" if info.id == subject.id else "owner_not_active")

        return self._cedar(evaluation, principals, delegated_for=chain[1:])

    def _resolve(self, ref: str) -> str | None:
        if is_id(ref):
            return ref
        cached = self._names.get(ref)
        if cached is not None:
            return cached
        with self._db.unit_of_work(readonly=True) as uow:
            found = uow.session.scalar(
                sa.select(Identity.id).where(
                    sa.or_(Identity.name == ref, Identity.email == ref.lower())
                )
            )
        if found is not None and len(self._names) < _CACHE_LIMIT:
            self._names[ref] = found  # names and emails are unique and never reassigned
        return found

    def _cedar(
        self,
        evaluation: Evaluation,
        principals: Sequence[IdentityInfo],
        *,
        delegated_for: tuple[str, ...],
    ) -> Decision:
        # Identity entities are serialised once per version of the row, not per decision.
        entities: dict[str, str] = {}
        for info in principals:
            entities[info.id] = self._entity_json(info)
            if info.owner_id and info.owner_id not in entities:
                owner = self.status.identity_synced(info.owner_id)
                if owner is not None:
                    entities[owner.id] = self._entity_json(owner)
        resource, extra = self._resource_entity(evaluation)
        parts = [*entities.values(), *(json.dumps(e) for e in extra)]
        resource_is_identity = (
            resource["uid"]["type"] == f"{NAMESPACE}::Identity"
            and resource["uid"]["id"] in entities
        )
        if not resource_is_identity:
            parts.append(json.dumps(resource))
        entity_json = "[" + ",".join(parts) + "]"
        context = {k: _cedar_value(v) for k, v in evaluation.context.items() if k != "token"}
        context = {k: v for k, v in context.items() if v is not None}
        if delegated_for:
            context["delegated"] = True
            context["on_behalf_of"] = {
                "__entity": {"type": f"{NAMESPACE}::Identity", "id": delegated_for[-1]}
            }
        requests = [
            {
                "principal": {"type": f"{NAMESPACE}::Identity", "id": info.id},
                "action": {"type": f"{NAMESPACE}::Action", "id": evaluation.action},
                "resource": resource["uid"],
                "context": context,
            }
            for info in principals
        ]
        try:
            results = cedarpy.is_authorized_batch(requests, self.policy_set(), entity_json)
        except ValueError:
            return _deny("evaluation_error")
        first = results[0]
        if not first.allowed:
            reasons = tuple(first.diagnostics.reasons)
            return Decision(False, "forbidden" if reasons else "no_policy_permits", reasons)
        for info, result in zip(principals[1:], results[1:], strict=True):
            if not result.allowed:
                return Decision(
                    False,
                    "delegator_denied" if info.id in delegated_for else "owner_denied",
                    tuple(result.diagnostics.reasons),
                )
        return Decision(True, "permitted", tuple(first.diagnostics.reasons))

    def _entity_json(self, info: IdentityInfo) -> str:
        cached = self._entities.get(info.id)
        if cached is not None and cached[0] is info:
            return cached[1]
        text = json.dumps(_identity_entity(info))
        if len(self._entities) >= _CACHE_LIMIT:
            self._entities = {}
        self._entities[info.id] = (info, text)
        return text

    def _resource_entity(
        self, evaluation: Evaluation
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        kind = _RESOURCE_TYPES.get(evaluation.resource_type.lower())
        properties = _cedar_value(evaluation.resource_properties) or {}
        extra: list[dict[str, Any]] = []
        if kind == "Identity":
            target_id = self._resolve(evaluation.resource_id)
            info = self.status.identity_synced(target_id) if target_id else None
            if info is not None:
                entity = _identity_entity(info)
                return entity, extra
            kind = "Resource"
        if kind is None:
            attrs = {"type": evaluation.resource_type, "properties": properties}
            kind = "Resource"
        elif kind == "Resource":
            attrs = {"type": "identity", "properties": properties}
        else:
            attrs = {"properties": properties}
        parents = []
        vault = evaluation.resource_properties.get("vault")
        if kind == "Item" and isinstance(vault, str):
            parent = {"type": f"{NAMESPACE}::Vault", "id": vault}
            parents.append(parent)
            extra.append({"uid": parent, "attrs": {}, "parents": []})
        uid = {"type": f"{NAMESPACE}::{kind}", "id": evaluation.resource_id}
        return {"uid": uid, "attrs": attrs, "parents": parents}, extra


def _identity_entity(info: IdentityInfo) -> dict[str, Any]:
    risk = info.attributes.get("risk", 0)
    attrs: dict[str, Any] = {
        "kind": info.kind,
        "name": info.name,
        "status": info.status,
        "risk": int(risk) if isinstance(risk, int | float) and not isinstance(risk, bool) else 0,
        "roles": list(info.roles),
    }
    if info.owner_id:
        attrs["owner"] = {"__entity": {"type": f"{NAMESPACE}::Identity", "id": info.owner_id}}
    return {"uid": {"type": f"{NAMESPACE}::Identity", "id": info.id}, "attrs": attrs, "parents": []}


def _cedar_value(value: Any) -> Any:
    """JSON from a PEP as a Cedar value: no floats or nulls in Cedar, no ``__`` escapes."""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return str(value)
    if isinstance(value, list):
        return [v for v in (_cedar_value(item) for item in value) if v is not None]
    if isinstance(value, dict):
        converted = {
            str(k): _cedar_value(v) for k, v in value.items() if not str(k).startswith("__")
        }
        return {k: v for k, v in converted.items() if v is not None}
    return None
