"""Cedar policies as the shells manage them: every call asks the guard first.

Both realms live here: ``access`` policies decide what PEPs ask (AuthZEN), ``admin``
policies define roles for Limen's own operations (with the built-in ``limen-admin``).
"""

from __future__ import annotations

from dataclasses import dataclass

from limen.access import policies
from limen.access.errors import PolicyNotFound
from limen.audit import Actor, Authorizer, Resource
from limen.store import Database

__all__ = ["PolicyEntry", "PolicyService"]


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    name: str
    realm: str
    text: str
    description: str | None
    builtin: bool


class PolicyService:
    """List, read, store, remove and validate policies on behalf of an actor."""

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def list(self, actor: Actor, *, realm: str | None = None) -> list[PolicyEntry]:
        self._guard.authorize(actor, "policy.read", Resource("policy"))
        builtin = [
            PolicyEntry(name, in_realm, text, "built in", True)
            for name, (in_realm, text) in policies.BUILTIN_POLICIES.items()
        ]
        with self._db.unit_of_work(readonly=True) as uow:
            stored = [
                PolicyEntry(p.name, p.realm, p.text, p.description, False)
                for p in policies.list_policies(uow.session)
            ]
        return [entry for entry in builtin + stored if realm is None or entry.realm == realm]

    def get(self, actor: Actor, name: str) -> PolicyEntry:
        self._guard.authorize(actor, "policy.read", Resource("policy", name=name))
        if name in policies.BUILTIN_POLICIES:
            realm, text = policies.BUILTIN_POLICIES[name]
            return PolicyEntry(name, realm, text, "built in", True)
        with self._db.unit_of_work(readonly=True) as uow:
            found = policies.get_policy(uow.session, name)
            return PolicyEntry(found.name, found.realm, found.text, found.description, False)

    def put(
        self,
        actor: Actor,
        name: str,
        text: str,
        *,
        description: str | None = None,
        replace: bool = False,
        validate: bool = True,
        realm: str = "access",
    ) -> PolicyEntry:
        self._guard.authorize(actor, "policy.write", Resource("policy", name=name))
        with self._db.unit_of_work() as uow:
            stored = policies.add_policy(
                uow,
                actor,
                name=name,
                text=text,
                description=description,
                replace=replace,
                validate=validate,
                realm=realm,
            )
            return PolicyEntry(stored.name, stored.realm, stored.text, stored.description, False)

    def remove(self, actor: Actor, name: str) -> None:
        self._guard.authorize(actor, "policy.write", Resource("policy", name=name))
        if name in policies.BUILTIN_POLICIES:
            raise PolicyNotFound(f"{name!r} is built in and cannot be removed")
        with self._db.unit_of_work() as uow:
            policies.remove_policy(uow, actor, name)

    def validate(self, actor: Actor, text: str, *, realm: str = "access") -> int:
        """How many statements ``text`` holds, once it parses and validates."""
        self._guard.authorize(actor, "policy.read", Resource("policy"))
        with self._db.unit_of_work(readonly=True) as uow:
            fragments = policies.schema_fragments(uow.session)
        return len(policies.validate_policy(text, realm=realm, fragments=fragments))
