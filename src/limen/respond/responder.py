"""Containment as the shells use it: every call asks the guard first, then acts in one
unit of work (see :mod:`limen.respond.containment` and :mod:`limen.respond.partners`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from limen import identity as identities
from limen.audit import Actor, Authorizer, Resource
from limen.respond import containment, partners
from limen.respond.containment import Contained
from limen.respond.directory import DirectoryPage, list_directory
from limen.store import Database, UnitOfWork
from limen.store.models import (
    Containment,
    Identity,
    IdentityKind,
    IdentityStatus,
    OAuthClient,
    SsfStream,
)

__all__ = ["Note", "Responder"]

Note = Callable[[UnitOfWork, Contained], None]
"""Records a surface's own event in the same unit of work as the change."""


class Responder:
    """Suspend, reactivate, deprovision, kill switches and partners, for an actor."""

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def directory(
        self,
        actor: Actor,
        *,
        kind: IdentityKind,
        status: IdentityStatus | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 25,
    ) -> DirectoryPage:
        """The partners' directory: active and suspended identities of one kind."""
        self._guard.authorize(actor, "identity.read", Resource("identity"))
        with self._db.unit_of_work(readonly=True) as uow:
            return list_directory(uow.session, kind=kind, status=status, after=after, limit=limit)

    def find(self, actor: Actor, ref: str, *, kind: str | None = None) -> Identity:
        """One identity of the partners' directory (deprovisioned ones are not found)."""
        target = self._target(ref, kind)
        self._guard.authorize(actor, "identity.read", Resource("identity", target.id, target.name))
        return target

    def _subject(self, ref: str, kind: str | None) -> Resource:
        """The identity a status change is about, as the guard sees it. A partner names
        it by id, which the running status view answers from memory: a containment then
        costs one transaction, not two. The change itself checks the identity again."""
        info = self._guard.known_identity(ref.strip().lower())
        if info is not None and info.status != "deprovisioned" and kind in (None, info.kind):
            return Resource("identity", info.id, info.name)
        target = self._target(ref, kind)
        return Resource("identity", target.id, target.name)

    def _target(self, ref: str, kind: str | None) -> Identity:
        def find() -> Identity:
            with self._db.unit_of_work(readonly=True) as uow:
                return containment.find(uow.session, ref, kind=kind)

        return self._db.retrying(find)

    def contain(
        self,
        actor: Actor,
        ref: str,
        *,
        kind: str | None = None,
        reason: str | None = None,
        cascade: bool = False,
        note: Note | None = None,
    ) -> Contained:
        """Suspend an identity, revoke its tokens, and with ``cascade`` its machines.

        ``note(uow, done)`` may record more in the same transaction (a surface's own event).
        """
        target = self._subject(ref, kind)
        self._guard.authorize(actor, "identity.suspend", target)

        def change() -> Contained:
            with self._db.unit_of_work() as uow:
                done = containment.contain(
                    uow, actor, target.id, kind=kind, reason=reason, cascade=cascade
                )
                if note is not None:
                    note(uow, done)
                return done

        # Idempotent: a connection found dead on the way is retried once, so a SOAR's
        # first suspension after a database restart does not fail.
        return self._db.retrying(change)

    def release(
        self,
        actor: Actor,
        ref: str,
        *,
        kind: str | None = None,
        reason: str | None = None,
        cascade: bool = False,
        note: Note | None = None,
    ) -> Contained:
        target = self._subject(ref, kind)
        self._guard.authorize(actor, "identity.reactivate", target)

        def change() -> Contained:
            with self._db.unit_of_work() as uow:
                done = containment.release(
                    uow, actor, target.id, kind=kind, reason=reason, cascade=cascade
                )
                if note is not None:
                    note(uow, done)
                return done

        return self._db.retrying(change)

    def deprovision(self, actor: Actor, ref: str, *, reason: str | None = None) -> Contained:
        with self._db.unit_of_work(readonly=True) as uow:
            target = identities.get(uow.session, ref)
        self._guard.authorize(
            actor, "identity.delete", Resource("identity", target.id, target.name)
        )
        with self._db.unit_of_work() as uow:
            return containment.deprovision(uow, actor, target.id, reason=reason)

    def engage(
        self, actor: Actor, *, kind: str, reason: str | None = None
    ) -> tuple[Containment, list[str]]:
        self._guard.authorize(actor, "killswitch.engage", Resource("kill_switch", name=kind))
        with self._db.unit_of_work() as uow:
            return containment.engage(uow, actor, kind=kind, reason=reason)

    def disengage(
        self, actor: Actor, *, kind: str, reason: str | None = None
    ) -> tuple[Containment, list[str], list[str]]:
        self._guard.authorize(actor, "killswitch.disengage", Resource("kill_switch", name=kind))
        with self._db.unit_of_work() as uow:
            return containment.disengage(uow, actor, kind=kind, reason=reason)

    def kill_switches(self, actor: Actor) -> Sequence[tuple[Containment, int]]:
        self._guard.authorize(actor, "killswitch.read", Resource("kill_switch"))
        with self._db.unit_of_work(readonly=True) as uow:
            return containment.engaged_kill_switches(uow.session)

    def register_partner(
        self, actor: Actor, name: str, *, scopes: Iterable[str]
    ) -> tuple[Identity, OAuthClient, str]:
        self._guard.authorize(actor, "partner.create", Resource("partner", name=name))
        with self._db.unit_of_work() as uow:
            return partners.register_partner(uow, actor, name, scopes=scopes)

    def list_partners(self, actor: Actor) -> list[partners.Partner]:
        self._guard.authorize(actor, "partner.read", Resource("partner"))
        with self._db.unit_of_work(readonly=True) as uow:
            return partners.list_partners(uow.session)

    def get_partner(self, actor: Actor, ref: str) -> partners.Partner:
        self._guard.authorize(actor, "partner.read", Resource("partner", name=ref))
        with self._db.unit_of_work(readonly=True) as uow:
            return partners.get_partner(uow.session, ref)

    def rotate_partner(
        self, actor: Actor, ref: str, *, client_id: str | None = None
    ) -> tuple[partners.Partner, OAuthClient, str]:
        self._guard.authorize(actor, "partner.rotate", Resource("partner", name=ref))
        with self._db.unit_of_work() as uow:
            return partners.rotate_partner(uow, actor, ref, client_id=client_id)

    def ssf_streams(
        self, actor: Actor, *, receiver: str | None = None
    ) -> list[tuple[SsfStream, str]]:
        """Every receiver's Shared Signals streams (``receiver``: one identity's), with
        the receiver's name. A receiver manages its own through ``/ssf/streams``."""
        from limen.respond import ssf

        self._guard.authorize(actor, "ssf.streams.read", Resource("ssf_stream"))
        with self._db.unit_of_work(readonly=True) as uow:
            receiver_id = identities.get(uow.session, receiver).id if receiver else None
            return ssf.every_stream(uow.session, receiver_id=receiver_id)

    def revoke_partner(self, actor: Actor, ref: str) -> partners.Partner:
        self._guard.authorize(actor, "partner.revoke", Resource("partner", name=ref))
        with self._db.unit_of_work() as uow:
            return partners.revoke_partner(uow, actor, ref)
