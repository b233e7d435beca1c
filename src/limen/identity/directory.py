"""The directory of identities as the shells use it: every call asks the guard first.

:func:`limen.identity.create` and friends are the building blocks, for Limen's own use
inside a unit of work; :class:`Directory` is the door for people and machines, through
the API, the CLI and the console.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from limen.audit import Actor, Authorizer, Resource
from limen.identity import service
from limen.identity.service import UNCHANGED, Census, IdentityPage
from limen.store import Database
from limen.store.models import Identity

__all__ = ["Directory", "identity_resource"]


def identity_resource(identity: Identity) -> Resource:
    return Resource("identity", identity.id, identity.name)


class Directory:
    """Create, read, list and change identities on behalf of an actor."""

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def create(
        self,
        actor: Actor,
        *,
        kind: str,
        name: str,
        email: str | None = None,
        display_name: str | None = None,
        owner: str | None = None,
        roles: Iterable[str] = (),
        attributes: dict[str, Any] | None = None,
    ) -> Identity:
        self._guard.authorize(actor, "identity.create", Resource("identity", name=name))
        with self._db.unit_of_work() as uow:
            return service.create(
                uow,
                actor,
                kind=kind,
                name=name,
                email=email,
                display_name=display_name,
                owner=owner,
                roles=roles,
                attributes=attributes,
            )

    def get(self, actor: Actor, ref: str) -> Identity:
        with self._db.unit_of_work(readonly=True) as uow:
            found = service.get(uow.session, ref)
        self._guard.authorize(actor, "identity.read", identity_resource(found))
        return found

    def list(
        self,
        actor: Actor,
        *,
        kind: str | None = None,
        status: str | None = None,
        owner: str | None = None,
        managed: bool | None = None,
        q: str | None = None,
        risk_at_least: int | None = None,
        unowned: bool = False,
        after: str | None = None,
        limit: int = 100,
    ) -> IdentityPage:
        self._guard.authorize(actor, "identity.read", Resource("identity"))
        with self._db.unit_of_work(readonly=True) as uow:
            return service.list_identities(
                uow.session,
                kind=kind,
                status=status,
                owner=owner,
                managed=managed,
                q=q,
                risk_at_least=risk_at_least,
                unowned=unowned,
                after=after,
                limit=limit,
            )

    def owned_by(
        self, actor: Actor, owner_ids: Sequence[str], *, limit_each: int = 10
    ) -> dict[str, tuple[list[Identity], int]]:
        """What each of these owners owns (the first ``limit_each``) and how many in all."""
        self._guard.authorize(actor, "identity.read", Resource("identity"))
        with self._db.unit_of_work(readonly=True) as uow:
            return service.owned_by(uow.session, owner_ids, limit_each=limit_each)

    def census(self, actor: Actor) -> Census:
        """How many identities there are, by kind and by status."""
        self._guard.authorize(actor, "identity.read", Resource("identity"))
        with self._db.unit_of_work(readonly=True) as uow:
            return service.census(uow.session)

    def update(
        self,
        actor: Actor,
        ref: str,
        *,
        display_name: str | None = UNCHANGED,
        email: str | None = UNCHANGED,
        roles: Iterable[str] = UNCHANGED,
        owner: str | None = UNCHANGED,
        attributes: dict[str, Any] | None = UNCHANGED,
    ) -> Identity:
        with self._db.unit_of_work(readonly=True) as uow:
            found = service.get(uow.session, ref)
        self._guard.authorize(actor, "identity.update", identity_resource(found))
        with self._db.unit_of_work() as uow:
            return service.update(
                uow,
                actor,
                found.id,
                display_name=display_name,
                email=email,
                roles=roles,
                owner=owner,
                attributes=attributes,
            )
