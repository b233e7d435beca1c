"""The one guard of Limen's own operations: ``authorize(actor, action, resource)``.

Every domain service asks it before it acts, whichever shell called (API, CLI, console).
An actor may act when:

1. its token grants a scope the action accepts (:data:`limen.access.admin.ACTIONS`);
2. Cedar, evaluating the built-in ``limen-admin`` policy and the operators' own
   administrative policies, permits the action on the resource for the actor, for every
   identity it acts on behalf of, and for the owner of each: an agent or service never
   gets more than its owner's roles allow.

Standing (suspension, cut-off, kill switch) was checked when the actor authenticated. The
operator at the server's own console (the CLI with the key file) and Limen itself act
without asking. Every refusal is recorded as a ``denied`` event of the action it refused,
before the refusal is raised.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cedarpy
import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.access._cedar import authorize as cedar_authorize
from limen.access.admin import ACTIONS, ADMIN_POLICY, ADMIN_POLICY_NAME
from limen.access.policies import CompiledPolicies, compile_policies
from limen.access.schema import NAMESPACE
from limen.audit import Actor, Outcome, Resource, record
from limen.audit.durable import EventWriter, Write
from limen.errors import Denied
from limen.identity.status import POLICIES_TOPIC, IdentityInfo, StatusView
from limen.store import Database
from limen.store.models import Policy

__all__ = ["TRUSTED_KINDS", "Guard", "Refusal"]

TRUSTED_KINDS: Final = frozenset({"operator", "system"})
"""Actors that act without asking: the CLI on the server host (it holds the key file and
the database) and Limen itself."""

_IDENTITY: Final = f"{NAMESPACE}::Identity"
_ACTION: Final = f"{NAMESPACE}::Action"
_CACHE_LIMIT: Final = 50_000


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the guard said no, and the event that records it."""

    error: Denied
    write: Write


class Guard:
    """Decides whether an actor may perform one of Limen's own operations."""

    def __init__(
        self,
        db: Database,
        *,
        status: StatusView | Callable[[], StatusView],
        events: EventWriter,
        threat_level: Callable[[], str] | None = None,
    ) -> None:
        """``status`` may be a callable that makes the view: trusted actors (the CLI's
        operator) never need it, so a command that only they run never builds it.
        ``threat_level`` gives the platform's level (Cedar's ``context.threat_level``),
        so administrative policies can tighten Limen's own operations as it rises."""
        self._db = db
        self._threat_level = threat_level
        self._status_source = status
        self._status: StatusView | None = status if isinstance(status, StatusView) else None
        self._events = events
        self._lock = threading.RLock()
        self._generation = 0
        self._policies: tuple[int, CompiledPolicies] | None = None
        self._cache: dict[
            tuple[Any, ...],
            tuple[int, tuple[tuple[IdentityInfo, ...], IdentityInfo | None], bool | int],
        ] = {}
        self._actions_json = [
            {
                "uid": {"type": _ACTION, "id": name},
                "attrs": {},
                "parents": [{"type": _ACTION, "id": spec.group}],
            }
            for name, spec in ACTIONS.items()
        ]
        if self._status is not None:
            self._attach(self._status)

    @property
    def status(self) -> StatusView:
        view = self._status
        if view is None:
            with self._lock:
                view = self._status
                if view is None:
                    source = self._status_source
                    assert callable(source)
                    view = source()
                    self._attach(view)
        return view

    def known_identity(self, identity_id: str) -> IdentityInfo | None:
        """The status view's record of an identity, if the view is already running (a
        command run by the operator never starts it for this); ``None`` otherwise."""
        view = self._status
        return view.identity(identity_id) if view is not None else None

    def warm(self) -> None:
        """Read what deciding needs (the status view, the admin policies) now, so that
        no decision ever reads the database."""
        _ = self.status
        self._current_policies()

    def _attach(self, view: StatusView) -> None:
        self._status = view
        view.on_change(self._on_change)
        self._load_policies()

    # -- the guard ---------------------------------------------------------------------

    def authorize(
        self,
        actor: Actor,
        action: str,
        resource: Resource | None = None,
        *,
        scopes: Iterable[str] | None = None,
    ) -> None:
        """Return if ``actor`` may do ``action`` on ``resource``; else record the refusal
        (blocking until it is durable) and raise :class:`~limen.errors.Denied`."""
        refusal = self.check(actor, action, resource, scopes=scopes)
        if refusal is not None:
            self._events.write([refusal.write])
            raise refusal.error

    async def authorize_async(
        self,
        actor: Actor,
        action: str,
        resource: Resource | None = None,
        *,
        scopes: Iterable[str] | None = None,
    ) -> None:
        """:meth:`authorize` for a coroutine: the refusal's event is awaited."""
        refusal = self.check(actor, action, resource, scopes=scopes)
        if refusal is not None:
            await self._events.written([refusal.write])
            raise refusal.error

    def allows(
        self,
        actor: Actor,
        action: str,
        resource: Resource | None = None,
        *,
        scopes: Iterable[str] | None = None,
    ) -> bool:
        """Whether :meth:`authorize` would let this through (nothing is recorded): for
        showing only the actions a person may take."""
        return self.check(actor, action, resource, scopes=scopes) is None

    def refusal(
        self,
        actor: Actor,
        action: str,
        resource: Resource | None = None,
        *,
        scopes: Iterable[str] | None = None,
    ) -> str | None:
        """Why :meth:`authorize` would refuse, or ``None``: nothing is recorded."""
        refused = self.check(actor, action, resource, scopes=scopes)
        return None if refused is None else refused.error.detail

    def check(
        self,
        actor: Actor,
        action: str,
        resource: Resource | None = None,
        *,
        scopes: Iterable[str] | None = None,
    ) -> Refusal | None:
        """The refusal, or ``None`` if the actor may: memory only, nothing recorded."""
        spec = ACTIONS.get(action)
        if spec is None:
            raise ValueError(f"{action!r} is not one of Limen's operations")
        if actor.kind in TRUSTED_KINDS:
            return None
        accepted = tuple(scopes) if scopes is not None else spec.scopes
        if accepted and not any(actor.has_scope(scope) for scope in accepted):
            named = " or ".join(repr(scope) for scope in accepted)
            return self._refusal(actor, action, resource, f"this token lacks the {named} scope")
        principals = self._principals(actor)
        if principals is None:
            return self._refusal(actor, action, resource, f"{actor.name} may not {spec.summary}")
        denied = self._denied(principals, action, resource)
        if denied is None:
            return None
        if denied.id == actor.identity_id:
            why = f"{denied.name} may not {spec.summary}"
        else:
            why = f"{actor.name} acts for {denied.name}, who may not {spec.summary}"
        return self._refusal(actor, action, resource, why)

    # -- deciding ----------------------------------------------------------------------

    def _principals(self, actor: Actor) -> tuple[IdentityInfo, ...] | None:
        """The actor, whoever it acts for, and each one's owner; ``None`` if one is unknown."""
        status = self.status
        ids = [actor.identity_id, *(d.get("id") for d in actor.delegation)]
        found: dict[str, IdentityInfo] = {}
        for identity_id in ids:
            info = status.identity(identity_id) if identity_id else None
            if info is None:
                return None
            found[info.id] = info
            if info.owner_id and info.owner_id not in found:
                owner = status.identity(info.owner_id)
                if owner is None:
                    return None
                found[owner.id] = owner
        return tuple(found.values())

    def _denied(
        self, principals: Sequence[IdentityInfo], action: str, resource: Resource | None
    ) -> IdentityInfo | None:
        """The first principal Cedar does not permit, or ``None``."""
        generation, compiled = self._current_policies()
        target = (
            self.status.identity(resource.id)
            if resource and resource.type == "identity" and resource.id
            else None
        )
        level = self._threat_level() if self._threat_level is not None else None
        # Keyed by who and what, not by the identity rows: every status change makes new
        # rows, and a key holding them kept each old version alive in an entry never hit
        # again (a SOAR suspending and reactivating one identity grew the cache by two
        # entries a round, until the limit). The rows are compared on a hit instead.
        key = (
            tuple(info.id for info in principals),
            action,
            resource,
            target.id if target is not None else None,
            level,
        )
        rows = (tuple(principals), target)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == generation and cached[1] == rows:
            allowed_upto = cached[2]
        else:
            allowed_upto = self._evaluate(compiled, principals, action, resource, target, level)
            with self._lock:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache = {}
                self._cache[key] = (generation, rows, allowed_upto)
        return None if allowed_upto is True else principals[allowed_upto]

    def _evaluate(
        self,
        compiled: CompiledPolicies,
        principals: Sequence[IdentityInfo],
        action: str,
        resource: Resource | None,
        target: IdentityInfo | None,
        level: str | None = None,
    ) -> bool | int:
        """``True`` if Cedar permits every principal; else the index of the first it does not."""
        context = json.dumps({"threat_level": level} if level is not None else {})
        entities: list[dict[str, Any]] = [_identity_entity(info) for info in principals]
        members = {info.id for info in principals}
        resource_uid, resource_entities = _resource(resource, target)
        entities.extend(e for e in resource_entities if e["uid"]["id"] not in members)
        entities.extend(self._actions_json)
        handle = cedarpy.Entities.from_json_str(json.dumps(entities))
        requests = [
            {
                "principal": {"type": _IDENTITY, "id": info.id},
                "action": {"type": _ACTION, "id": action},
                "resource": resource_uid,
                "context": context,
            }
            for info in principals
        ]
        answers = cedar_authorize(requests, compiled.policy_set, handle)
        for index, answer in enumerate(answers):
            if not answer.allowed:
                return index
        return True

    # -- policies ----------------------------------------------------------------------

    def _on_change(self, topic: str, _ident: str | None) -> None:
        if topic == POLICIES_TOPIC:
            self._load_policies()

    def _load_policies(self) -> None:
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._cache = {}
        with self._db.unit_of_work(readonly=True) as uow:
            stored = _admin_policies(uow.session)
        compiled = compile_policies([(ADMIN_POLICY_NAME, ADMIN_POLICY), *stored])
        with self._lock:
            if self._generation == generation:
                self._policies = generation, compiled

    def _current_policies(self) -> tuple[int, CompiledPolicies]:
        current = self._policies
        while current is None:
            self._load_policies()
            current = self._policies
        return current

    # -- refusals ----------------------------------------------------------------------

    def _refusal(self, actor: Actor, action: str, resource: Resource | None, why: str) -> Refusal:
        def write(session: Session) -> None:
            record(
                session,
                actor,
                action,
                resource_type=resource.type if resource else None,
                resource_id=resource.id if resource else None,
                resource_name=resource.name if resource else None,
                outcome=Outcome.DENIED,
                reason=why,
            )

        return Refusal(Denied(why), write)


def _admin_policies(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(
        sa.select(Policy.name, Policy.text).where(Policy.realm == "admin").order_by(Policy.name)
    )
    return [(name, text) for name, text in rows]


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
        attrs["owner"] = {"__entity": {"type": _IDENTITY, "id": info.owner_id}}
    return {"uid": {"type": _IDENTITY, "id": info.id}, "attrs": attrs, "parents": []}


def _resource(
    resource: Resource | None, target: IdentityInfo | None
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The resource's Cedar uid and the entities that describe it."""
    if resource is None:
        uid = {"type": f"{NAMESPACE}::Resource", "id": "limen"}
        return uid, [{"uid": uid, "attrs": {"type": "installation"}, "parents": []}]
    if resource.type == "identity" and target is not None:
        return {"type": _IDENTITY, "id": target.id}, [_identity_entity(target)]
    if resource.type == "vault" and resource.id:
        uid = {"type": f"{NAMESPACE}::Vault", "id": resource.id}
        return uid, [{"uid": uid, "attrs": {}, "parents": []}]
    if resource.type == "item" and resource.id:
        uid = {"type": f"{NAMESPACE}::Item", "id": resource.id}
        parents = []
        entities = []
        if resource.vault:
            vault = {"type": f"{NAMESPACE}::Vault", "id": resource.vault}
            parents.append(vault)
            entities.append({"uid": vault, "attrs": {}, "parents": []})
        entities.append({"uid": uid, "attrs": {}, "parents": parents})
        return uid, entities
    uid = {"type": f"{NAMESPACE}::Resource", "id": resource.id or resource.type}
    return uid, [{"uid": uid, "attrs": {"type": resource.type}, "parents": []}]
