"""Provisioning: the company's identity provider decides who the humans are.

The identity provider (Okta, Entra ID, JumpCloud, Google) pushes people and groups
(the SCIM surface, ``api/scim``, translates its wire shapes into the calls here):

- a provisioned user is a human identity, linked to its ``userName`` and ``externalId``;
  a human made by hand with the same name or email is adopted, not duplicated;
- a group grants Limen roles (``limen scim group-role GROUP ROLE``) to its members, and
  its name is in each member's ``groups`` attribute;
- offboarding (``active: false``, or a deletion) suspends the person, handles the agents
  and services they own by the ``orphans`` setting (``suspend``, ``transfer-to-manager``
  or ``keep``), revokes their tokens (delegated tokens fall with the person's cut-off) and
  OAuth clients, and lists the vault items they or their machines could read as needing
  rotation. Every step is an event. The policy is the SCIM token's own (``limen scim token
  create --orphans``) or the setting; an operator deprovisioning a person by hand
  (``limen identity deprovision``) goes through the same steps and may name the policy;
  :func:`explain_offboarding` tells what one offboarding did, for the CLI and the console.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen import identity as identities
from limen import tokens
from limen.audit import Actor, Authorizer, Resource, record
from limen.errors import Conflict, InvalidInput, NotFound
from limen.ids import is_id
from limen.lifecycle.offboarding import ORPHAN_POLICIES, explain_offboarding, orphans_policy
from limen.store import Database, Lookup, UnitOfWork
from limen.store.models import (
    ApiToken,
    Event,
    Identity,
    IdentityKind,
    IdentityStatus,
    OAuthClient,
    ProvisionedGroup,
    ProvisionedMember,
    ProvisionedUser,
    Vault,
    VaultItem,
    utcnow,
)
from limen.vault import flag_for_rotation

__all__ = [
    "ORPHAN_POLICIES",
    "SCIM_SCOPE",
    "GroupDraft",
    "GroupRecord",
    "Offboarded",
    "PreconditionFailed",
    "Provisioning",
    "UserDraft",
    "UserRecord",
    "explain_offboarding",
    "orphans_policy",
]

SCIM_SCOPE: Final = "scim:write"
_ACTION: Final = "scim.provision"
_READ_ACTIONS: Final = ("vault.item.read", "vault.secret.read", "vault.file.read")
_VAULT_SCOPE = re.compile(r"^vault:([^:]+):(read|write)$")


class PreconditionFailed(Conflict):
    """``If-Match`` named a version that is no longer current."""

    code = "precondition-failed"
    title = "Precondition failed"


@dataclass(slots=True)
class UserDraft:
    """What the identity provider says about a person."""

    user_name: str
    external_id: str | None = None
    display_name: str | None = None
    email: str | None = None
    active: bool = True
    manager_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    """Plain attributes Cedar and the access review may read (department, title…)."""
    document: dict[str, Any] = field(default_factory=dict)
    """The resource as sent, kept to answer with it."""


@dataclass(slots=True)
class GroupDraft:
    display_name: str
    external_id: str | None = None
    members: list[str] = field(default_factory=list)
    """Ids of provisioned users."""
    member_details: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What was sent about each member besides its id (``display``, ``type``), by id."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    user_name: str
    external_id: str | None
    display_name: str | None
    email: str | None
    active: bool
    status: str
    roles: tuple[str, ...]
    groups: tuple[tuple[str, str], ...]
    """(group id, display name)."""
    document: dict[str, Any]
    version: int
    created_at: Any
    updated_at: Any


@dataclass(frozen=True, slots=True)
class GroupRecord:
    id: str
    display_name: str
    external_id: str | None
    roles: tuple[str, ...]
    members: tuple[tuple[str, str], ...]
    """(identity id, userName)."""
    member_details: dict[str, dict[str, Any]]
    version: int
    created_at: Any
    updated_at: Any


@dataclass(slots=True)
class Offboarded:
    """What offboarding one person did."""

    identity_id: str
    policy: str
    suspended: list[str] = field(default_factory=list)
    transferred: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    revoked_tokens: int = 0
    revoked_clients: int = 0
    needs_rotation: list[dict[str, str]] = field(default_factory=list)
    event: tuple[Any, str, str | None, dict[str, Any]] | None = None
    """The ``lifecycle.offboard`` event: when, by whom, why, and its context."""


class Provisioning:
    """Users and groups as the identity provider manages them, for an actor."""

    def __init__(self, db: Database, authorizer: Authorizer, *, orphans: str = "suspend") -> None:
        self._db = db
        self._guard = authorizer
        self.orphans = orphans_policy(orphans)

    def _authorize(self, actor: Actor, name: str | None = None) -> None:
        self._guard.authorize(actor, _ACTION, Resource("scim", name=name))

    def issue_token(
        self, actor: Actor, name: str = "idp", *, orphans: str | None = None
    ) -> tuple[Identity, str, str]:
        """A ``scim:write`` token for an identity provider's provisioning connection,
        held by the service identity ``scim-<name>`` (made on first use). ``orphans``
        is what deprovisioning through it does with the person's machines (unset: the
        ``LIMEN_ORPHANS`` setting). Returns the identity, the token's id and its value
        (shown once)."""
        if orphans is not None:
            orphans_policy(orphans)
        self._guard.authorize(actor, "token.create", Resource("scim", name=name))
        with self._db.unit_of_work() as uow:
            holder_name = f"scim-{(name or 'idp').strip()}"
            holder = uow.session.scalar(sa.select(Identity).where(Identity.name == holder_name))
            if holder is None:
                holder = identities.create(
                    uow,
                    actor,
                    kind="service",
                    name=holder_name,
                    display_name=f"SCIM provisioning ({name})",
                    attributes={"purpose": "scim"},
                )
            elif holder.kind is not IdentityKind.SERVICE or not holder.is_active:
                raise Conflict(f"{holder_name!r} exists and is not an active service identity")
            row, raw = identities.issue_api_token(
                uow, actor, holder, purpose="scim", scopes=[SCIM_SCOPE], name=holder_name
            )
            row.orphans = orphans
            uow.flush()
            return holder, row.id, raw

    # -- users ---------------------------------------------------------------------------

    def users(self, actor: Actor, *, user_name: str | None = None) -> list[UserRecord]:
        """Every provisioned user (or the one with ``user_name``), oldest first."""
        self._authorize(actor)
        with self._db.unit_of_work(readonly=True) as uow:
            query = sa.select(ProvisionedUser).order_by(
                ProvisionedUser.created_at, ProvisionedUser.identity_id
            )
            if user_name is not None:
                query = query.where(sa.func.lower(ProvisionedUser.user_name) == user_name.lower())
            rows = list(uow.session.scalars(query))
            return _user_records(uow.session, rows)

    async def users_named(self, actor: Actor, user_name: str) -> list[UserRecord]:
        """:meth:`users` with ``user_name``, from a coroutine: the lookup an identity
        provider makes before each push (``userName eq "…"``), in one indexed query on
        the store's reading path (no thread on PostgreSQL) instead of three in a unit of
        work."""
        self._authorize(actor)
        rows = await self._db.all(_USER_NAMED, user_name=user_name.lower())
        records: list[UserRecord] = []
        groups: dict[str, list[tuple[str, str]]] = {}
        for row in rows:
            if row.identity_id not in groups:
                groups[row.identity_id] = []
                records.append(_named_record(row, groups[row.identity_id]))
            if row.group_id is not None:
                groups[row.identity_id].append((row.group_id, row.group_name))
        return [replace(r, groups=tuple(groups[r.id])) for r in records]

    def user(self, actor: Actor, user_id: str) -> UserRecord:
        self._authorize(actor)
        with self._db.unit_of_work(readonly=True) as uow:
            return _user_records(uow.session, [_user_row(uow.session, user_id)])[0]

    def create_user(self, actor: Actor, draft: UserDraft) -> UserRecord:
        self._authorize(actor, draft.user_name)
        with self._db.unit_of_work() as uow:
            session = uow.session
            user_name = _user_name(draft.user_name)
            if session.scalar(
                sa.select(ProvisionedUser.identity_id).where(
                    sa.func.lower(ProvisionedUser.user_name) == user_name.lower()
                )
            ):
                raise Conflict(f"a user named {user_name!r} is already provisioned")
            human = _adoptable(session, user_name, draft.email)
            if human is None:
                human = identities.create(
                    uow,
                    actor,
                    kind="human",
                    name=_identity_name(session, user_name),
                    email=draft.email,
                    display_name=draft.display_name,
                    attributes=draft.attributes,
                )
            else:
                identities.update(
                    uow,
                    actor,
                    human.id,
                    display_name=draft.display_name,
                    email=draft.email,
                    attributes={**(human.attributes or {}), **draft.attributes},
                )
            row = ProvisionedUser(
                identity_id=human.id,
                user_name=user_name,
                external_id=draft.external_id,
                document=draft.document,
                granted_roles=[],
                version=1,
            )
            session.add(row)
            uow.flush()
            record(
                session,
                actor,
                "scim.user.create",
                resource_type="identity",
                resource_id=human.id,
                resource_name=human.name,
                context={"user_name": user_name, "external_id": draft.external_id},
            )
            if not draft.active:
                self._offboard(uow, actor, human, row, delete=False)
            return _user_records(session, [row])[0]

    def replace_user(
        self, actor: Actor, user_id: str, draft: UserDraft, *, if_match: int | None = None
    ) -> UserRecord:
        """Set a user to ``draft`` (PUT, or PATCH once applied); ``active`` offboards or
        reinstates the person."""
        self._authorize(actor, draft.user_name)
        with self._db.unit_of_work() as uow:
            session = uow.session
            row = _user_row(session, user_id)
            _check_version(row.version, if_match)
            human = session.get(Identity, row.identity_id)
            assert human is not None
            user_name = _user_name(draft.user_name)
            if user_name.lower() != row.user_name.lower() and session.scalar(
                sa.select(ProvisionedUser.identity_id).where(
                    sa.func.lower(ProvisionedUser.user_name) == user_name.lower()
                )
            ):
                raise Conflict(f"a user named {user_name!r} is already provisioned")
            kept = {k: v for k, v in (human.attributes or {}).items() if k == "groups"}
            if human.status is not IdentityStatus.DEPROVISIONED:
                identities.update(
                    uow,
                    actor,
                    human.id,
                    display_name=draft.display_name,
                    email=draft.email,
                    attributes={**draft.attributes, **kept},
                )
            was_active = human.status is IdentityStatus.ACTIVE
            row.user_name = user_name
            row.external_id = draft.external_id
            row.document = draft.document
            row.version += 1
            row.updated_at = utcnow()
            uow.flush()
            record(
                session,
                actor,
                "scim.user.update",
                resource_type="identity",
                resource_id=human.id,
                resource_name=human.name,
                context={"user_name": user_name, "active": draft.active},
            )
            if was_active and not draft.active:
                self._offboard(uow, actor, human, row, delete=False)
            elif draft.active and human.status is IdentityStatus.SUSPENDED:
                identities.reactivate(
                    uow, actor, human.id, reason="reinstated by the identity provider"
                )
            return _user_records(session, [row])[0]

    def delete_user(self, actor: Actor, user_id: str, *, if_match: int | None = None) -> Offboarded:
        """Offboard the person for good: deprovisioned, no longer a SCIM resource."""
        self._authorize(actor)
        with self._db.unit_of_work() as uow:
            session = uow.session
            row = _user_row(session, user_id)
            _check_version(row.version, if_match)
            human = session.get(Identity, row.identity_id)
            assert human is not None
            done = self._offboard(uow, actor, human, row, delete=True)
            session.execute(
                sa.delete(ProvisionedMember).where(ProvisionedMember.identity_id == human.id)
            )
            session.delete(row)
            uow.flush()
            return done

    def offboarding(self, actor: Actor, ref: str) -> list[dict[str, Any]]:
        """The offboarding events of one identity, newest first: what happened and why,
        with the names of the identities and items they name (``names``)."""
        self._guard.authorize(actor, "event.read", Resource("identity", name=ref))
        with self._db.unit_of_work(readonly=True) as uow:
            target = identities.get(uow.session, ref)
            rows = uow.session.scalars(
                sa.select(Event)
                .where(Event.action == "lifecycle.offboard", Event.resource_id == target.id)
                .order_by(Event.seq.desc())
            ).all()
            return _steps(
                uow.session, [(e.occurred_at, e.actor_name, e.reason, e.context) for e in rows]
            )

    def deprovision(
        self, actor: Actor, ref: str, *, orphans: str | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        """Offboard a person by hand, through the same steps as the identity provider's
        deprovisioning, and deprovision them for good. ``orphans`` overrides the setting.
        Returns the offboarding as :meth:`offboarding` tells it."""
        if orphans is not None:
            orphans_policy(orphans)
        with self._db.unit_of_work(readonly=True) as uow:
            found = identities.get(uow.session, ref)
            target = Resource("identity", found.id, found.name)
        self._guard.authorize(actor, "identity.delete", target)
        with self._db.unit_of_work() as uow:
            session = uow.session
            human = session.get(Identity, target.id)
            assert human is not None
            if human.kind is not IdentityKind.HUMAN:
                raise InvalidInput(
                    f"{human.name!r} is not a person: only a person is offboarded with an "
                    "orphans policy (limen identity delete takes any identity out of service)"
                )
            if human.status is IdentityStatus.DEPROVISIONED:
                raise Conflict(f"{human.name!r} is already deprovisioned")
            row = session.get(ProvisionedUser, human.id)
            done = self._offboard(
                uow, actor, human, row, delete=True, by_hand=True, orphans=orphans, reason=reason
            )
            assert done.event is not None
            return _steps(session, [done.event])[0]

    # -- offboarding ---------------------------------------------------------------------

    def _offboard(
        self,
        uow: UnitOfWork,
        actor: Actor,
        human: Identity,
        row: ProvisionedUser | None,
        *,
        delete: bool,
        by_hand: bool = False,
        orphans: str | None = None,
        reason: str | None = None,
    ) -> Offboarded:
        """Offboard ``human``: for the identity provider, through its token, or
        ``by_hand`` for an operator, who may give ``orphans`` and ``reason``."""
        session = uow.session
        policy, source = self._policy(session, actor, orphans)
        done = Offboarded(human.id, policy)
        why = (reason or "").strip() or (
            f"deprovisioned by {actor.name}"
            if by_hand
            else "deprovisioned by the identity provider"
        )
        owned = list(
            session.scalars(
                sa.select(Identity)
                .where(
                    Identity.owner_id == human.id,
                    Identity.status != IdentityStatus.DEPROVISIONED,
                )
                .order_by(Identity.created_at, Identity.id)
            )
        )
        # Looked up first: once the machines change hands, their reads are still theirs.
        done.needs_rotation = _readable_items(session, [human, *owned])
        manager = _manager(session, row, human) if policy == "transfer-to-manager" else None
        for machine in owned:
            if policy == "keep":
                done.kept.append(machine.id)
            elif manager is not None and machine.kind is not IdentityKind.HUMAN:
                # A new owner sets the machine's cut-off: what it held on the leaver's
                # authority (delegated tokens) is not carried over.
                identities.update(uow, actor, machine.id, owner=manager.id)
                done.transferred.append(machine.id)
            elif machine.status is IdentityStatus.ACTIVE:
                identities.suspend(
                    uow, actor, machine.id, reason=f"owner {human.name}: {why}", via="provisioning"
                )
                done.suspended.append(machine.id)
        for machine in owned:
            if machine.id in done.suspended:
                done.revoked_tokens += _revoke_tokens(uow, actor, machine.id)
        if human.status is IdentityStatus.ACTIVE:
            identities.suspend(uow, actor, human.id, reason=why, via="provisioning")
        done.revoked_tokens += _revoke_tokens(uow, actor, human.id)
        for client_id in session.scalars(
            sa.select(OAuthClient.client_id).where(
                OAuthClient.identity_id == human.id, OAuthClient.revoked_at.is_(None)
            )
        ).all():
            tokens.revoke_client(uow, actor, client_id)
            done.revoked_clients += 1
        flag_for_rotation(
            session,
            [item["id"] for item in done.needs_rotation],
            reason=f"{human.name} could read it and was offboarded",
        )
        for item in done.needs_rotation:
            record(
                session,
                actor,
                "vault.item.rotation_needed",
                resource_type="vault_item",
                resource_id=item["id"],
                resource_name=item["name"],
                reason=f"{human.name} could read it and was offboarded",
                context={"offboarded": human.id, "via": item["via"]},
            )
        if delete:
            identities.deprovision(uow, actor, human.id, reason=why)
        context = {
            "orphans": policy,
            "orphans_from": source,
            "by_hand": by_hand,
            "note": (reason or "").strip() or None,
            "deleted": delete,
            "suspended": done.suspended,
            "transferred": done.transferred,
            "transferred_to": manager.id if manager and done.transferred else None,
            "kept": done.kept,
            "revoked_tokens": done.revoked_tokens,
            "revoked_clients": done.revoked_clients,
            "delegations_cut_off": True,
            "needs_rotation": [i["id"] for i in done.needs_rotation],
        }
        event = record(
            session,
            actor,
            "lifecycle.offboard",
            resource_type="identity",
            resource_id=human.id,
            resource_name=human.name,
            reason=why,
            context=context,
        )
        done.event = (event.occurred_at, actor.name, why, context)
        return done

    def _policy(self, session: Session, actor: Actor, given: str | None) -> tuple[str, str]:
        """The orphans policy of this offboarding, and where it came from: the operator's
        ``--orphans``, the policy of the SCIM token the identity provider called with, or
        the ``LIMEN_ORPHANS`` setting."""
        if given is not None:
            return given, "request"
        if actor.token_id:
            held = session.get(ApiToken, actor.token_id)
            if held is not None and held.orphans:
                return held.orphans, "token"
        return self.orphans, "setting"

    # -- groups --------------------------------------------------------------------------

    def groups(self, actor: Actor) -> list[GroupRecord]:
        self._authorize(actor)
        with self._db.unit_of_work(readonly=True) as uow:
            rows = list(
                uow.session.scalars(
                    sa.select(ProvisionedGroup).order_by(
                        ProvisionedGroup.created_at, ProvisionedGroup.id
                    )
                )
            )
            return _group_records(uow.session, rows)

    def group(self, actor: Actor, group_id: str) -> GroupRecord:
        self._authorize(actor)
        with self._db.unit_of_work(readonly=True) as uow:
            return _group_records(uow.session, [_group_row(uow.session, group_id)])[0]

    def create_group(self, actor: Actor, draft: GroupDraft) -> GroupRecord:
        self._authorize(actor, draft.display_name)
        with self._db.unit_of_work() as uow:
            name = _group_name(draft.display_name)
            existing = uow.session.scalar(
                sa.select(ProvisionedGroup).where(ProvisionedGroup.display_name == name)
            )
            if existing is not None:
                raise Conflict(f"a group named {name!r} already exists")
            row = ProvisionedGroup(
                display_name=name,
                external_id=draft.external_id,
                roles=[],
                document={"members": draft.member_details},
                version=1,
            )
            uow.session.add(row)
            uow.flush()
            record(
                uow.session,
                actor,
                "scim.group.create",
                resource_type="scim_group",
                resource_id=row.id,
                resource_name=name,
            )
            self._set_members(uow, actor, row, draft.members)
            return _group_records(uow.session, [row])[0]

    def replace_group(
        self, actor: Actor, group_id: str, draft: GroupDraft, *, if_match: int | None = None
    ) -> GroupRecord:
        self._authorize(actor, draft.display_name)
        with self._db.unit_of_work() as uow:
            row = _group_row(uow.session, group_id)
            _check_version(row.version, if_match)
            name = _group_name(draft.display_name)
            if name != row.display_name and uow.session.scalar(
                sa.select(ProvisionedGroup.id).where(ProvisionedGroup.display_name == name)
            ):
                raise Conflict(f"a group named {name!r} already exists")
            renamed = name != row.display_name
            row.display_name = name
            row.external_id = draft.external_id
            row.document = {"members": draft.member_details}
            row.version += 1
            row.updated_at = utcnow()
            uow.flush()
            record(
                uow.session,
                actor,
                "scim.group.update",
                resource_type="scim_group",
                resource_id=row.id,
                resource_name=name,
            )
            self._set_members(uow, actor, row, draft.members, refresh_all=renamed)
            return _group_records(uow.session, [row])[0]

    def delete_group(self, actor: Actor, group_id: str, *, if_match: int | None = None) -> None:
        self._authorize(actor)
        with self._db.unit_of_work() as uow:
            row = _group_row(uow.session, group_id)
            _check_version(row.version, if_match)
            self._set_members(uow, actor, row, [])
            uow.session.delete(row)
            uow.flush()
            record(
                uow.session,
                actor,
                "scim.group.delete",
                resource_type="scim_group",
                resource_id=group_id,
                resource_name=row.display_name,
            )

    def grant_roles(self, actor: Actor, group_name: str, roles: Iterable[str]) -> GroupRecord:
        """Make a group grant these Limen roles (creating the group if the identity
        provider has not pushed it yet); its members' roles follow at once."""
        self._guard.authorize(actor, "identity.update", Resource("scim", name=group_name))
        with self._db.unit_of_work() as uow:
            name = _group_name(group_name)
            row = uow.session.scalar(
                sa.select(ProvisionedGroup).where(ProvisionedGroup.display_name == name)
            )
            if row is None:
                row = ProvisionedGroup(display_name=name, roles=[], document={}, version=1)
                uow.session.add(row)
                uow.flush()
            wanted = sorted({r.strip() for r in roles if r and r.strip()})
            known = identities.known_roles(uow.session)
            unknown = [r for r in wanted if r not in known]
            if unknown:
                raise InvalidInput(f"unknown role {unknown[0]!r}; known roles: {', '.join(known)}")
            row.roles = wanted
            row.version += 1
            uow.flush()
            record(
                uow.session,
                actor,
                "scim.group.roles",
                resource_type="scim_group",
                resource_id=row.id,
                resource_name=name,
                context={"roles": wanted},
            )
            members = uow.session.scalars(
                sa.select(ProvisionedMember.identity_id).where(ProvisionedMember.group_id == row.id)
            ).all()
            for member in members:
                _refresh_member(uow, actor, member)
            return _group_records(uow.session, [row])[0]

    def _set_members(
        self,
        uow: UnitOfWork,
        actor: Actor,
        row: ProvisionedGroup,
        members: Sequence[str],
        *,
        refresh_all: bool = False,
    ) -> None:
        session = uow.session
        wanted: set[str] = set()
        for ref in members:
            user = _user_row(session, ref)
            wanted.add(user.identity_id)
        current = set(
            session.scalars(
                sa.select(ProvisionedMember.identity_id).where(ProvisionedMember.group_id == row.id)
            )
        )
        added, removed = sorted(wanted - current), sorted(current - wanted)
        for member in added:
            session.add(ProvisionedMember(group_id=row.id, identity_id=member))
        if removed:
            session.execute(
                sa.delete(ProvisionedMember).where(
                    ProvisionedMember.group_id == row.id,
                    ProvisionedMember.identity_id.in_(removed),
                )
            )
        uow.flush()
        if added or removed:
            record(
                session,
                actor,
                "scim.group.members",
                resource_type="scim_group",
                resource_id=row.id,
                resource_name=row.display_name,
                context={"added": added, "removed": removed},
            )
        for member in sorted(wanted | current) if refresh_all else [*added, *removed]:
            _refresh_member(uow, actor, member)


# -- helpers ---------------------------------------------------------------------------


def _refresh_member(uow: UnitOfWork, actor: Actor, identity_id: str) -> None:
    """Set a member's roles and ``groups`` attribute from the groups it is in now."""
    session = uow.session
    human = session.get(Identity, identity_id)
    user = session.get(ProvisionedUser, identity_id)
    if human is None or user is None or human.status is IdentityStatus.DEPROVISIONED:
        return
    groups = session.execute(
        sa.select(ProvisionedGroup.display_name, ProvisionedGroup.roles)
        .join(ProvisionedMember, ProvisionedMember.group_id == ProvisionedGroup.id)
        .where(ProvisionedMember.identity_id == identity_id)
        .order_by(ProvisionedGroup.display_name)
    ).all()
    granted = sorted({role for _, roles in groups for role in roles or []})
    by_hand = set(human.roles or []) - set(user.granted_roles or [])
    roles = sorted(by_hand | set(granted))
    attributes = {**(human.attributes or {}), "groups": [name for name, _ in groups]}
    identities.update(uow, actor, human.id, roles=roles, attributes=attributes)
    user.granted_roles = granted
    uow.flush()


_USER_NAMED: Final = Lookup(
    sa.select(
        ProvisionedUser.identity_id,
        ProvisionedUser.user_name,
        ProvisionedUser.external_id,
        ProvisionedUser.document,
        ProvisionedUser.version,
        ProvisionedUser.created_at,
        ProvisionedUser.updated_at,
        Identity.display_name,
        Identity.email,
        Identity.status,
        Identity.roles,
        ProvisionedGroup.id.label("group_id"),
        ProvisionedGroup.display_name.label("group_name"),
    )
    .join(Identity, Identity.id == ProvisionedUser.identity_id)
    .outerjoin(ProvisionedMember, ProvisionedMember.identity_id == ProvisionedUser.identity_id)
    .outerjoin(ProvisionedGroup, ProvisionedGroup.id == ProvisionedMember.group_id)
    .where(sa.func.lower(ProvisionedUser.user_name) == sa.bindparam("user_name"))
    .order_by(
        ProvisionedUser.created_at, ProvisionedUser.identity_id, ProvisionedGroup.display_name
    )
)
"""A user by name, case-insensitively (``ix_provisioned_users_lower_name``), with the
groups it is in: one row per group, or one with no group."""


def _named_record(row: Any, groups: list[tuple[str, str]]) -> UserRecord:
    status = IdentityStatus(row.status)
    return UserRecord(
        id=row.identity_id,
        user_name=row.user_name,
        external_id=row.external_id,
        display_name=row.display_name,
        email=row.email,
        active=status is IdentityStatus.ACTIVE,
        status=str(status),
        roles=tuple(row.roles or ()),
        groups=(),
        document=dict(row.document or {}),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _user_records(session: Session, rows: Sequence[ProvisionedUser]) -> list[UserRecord]:
    if not rows:
        return []
    ids = [r.identity_id for r in rows]
    people = {i.id: i for i in session.scalars(sa.select(Identity).where(Identity.id.in_(ids)))}
    memberships: dict[str, list[tuple[str, str]]] = {}
    for identity_id, group_id, name in session.execute(
        sa.select(ProvisionedMember.identity_id, ProvisionedGroup.id, ProvisionedGroup.display_name)
        .join(ProvisionedGroup, ProvisionedGroup.id == ProvisionedMember.group_id)
        .where(ProvisionedMember.identity_id.in_(ids))
        .order_by(ProvisionedGroup.display_name)
    ):
        memberships.setdefault(identity_id, []).append((group_id, name))
    records = []
    for row in rows:
        human = people[row.identity_id]
        records.append(
            UserRecord(
                id=human.id,
                user_name=row.user_name,
                external_id=row.external_id,
                display_name=human.display_name,
                email=human.email,
                active=human.status is IdentityStatus.ACTIVE,
                status=str(human.status),
                roles=tuple(human.roles or ()),
                groups=tuple(memberships.get(human.id, ())),
                document=dict(row.document or {}),
                version=row.version,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
        )
    return records


def _group_records(session: Session, rows: Sequence[ProvisionedGroup]) -> list[GroupRecord]:
    ids = [r.id for r in rows]
    members: dict[str, list[tuple[str, str]]] = {}
    if ids:
        for group_id, identity_id, user_name in session.execute(
            sa.select(
                ProvisionedMember.group_id,
                ProvisionedMember.identity_id,
                ProvisionedUser.user_name,
            )
            .join(ProvisionedUser, ProvisionedUser.identity_id == ProvisionedMember.identity_id)
            .where(ProvisionedMember.group_id.in_(ids))
            .order_by(ProvisionedUser.user_name)
        ):
            members.setdefault(group_id, []).append((identity_id, user_name))
    return [
        GroupRecord(
            id=row.id,
            display_name=row.display_name,
            external_id=row.external_id,
            roles=tuple(row.roles or ()),
            members=tuple(members.get(row.id, ())),
            member_details=dict((row.document or {}).get("members") or {}),
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in rows
    ]


def _user_row(session: Session, user_id: str) -> ProvisionedUser:
    ref = (user_id or "").strip().lower()
    row = session.get(ProvisionedUser, ref) if is_id(ref) else None
    if row is None:
        raise NotFound(f"no user {user_id[:100]!r}")
    return row


def _group_row(session: Session, group_id: str) -> ProvisionedGroup:
    ref = (group_id or "").strip().lower()
    row = session.get(ProvisionedGroup, ref) if is_id(ref) else None
    if row is None:
        raise NotFound(f"no group {group_id[:100]!r}")
    return row


def _check_version(version: int, if_match: int | None) -> None:
    if if_match is not None and if_match != version:
        raise PreconditionFailed("the resource changed since that version was read")


def _user_name(value: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > 320:
        raise InvalidInput("userName is required (at most 320 characters)")
    return value


def _group_name(value: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > 200:
        raise InvalidInput("displayName is required (at most 200 characters)")
    return value


def _identity_name(session: Session, user_name: str) -> str:
    """A valid, free identity name for a user name (its local part if it is an email
    and that is taken by no one, else the whole user name)."""
    name = re.sub(r"[^\w.@+\- ]", "-", user_name)[:200].strip(" ._-@+") or "user"
    if session.scalar(sa.select(Identity.id).where(Identity.name == name)) is None:
        return name
    n = 2
    while session.scalar(sa.select(Identity.id).where(Identity.name == f"{name[:190]}-{n}")):
        n += 1
    return f"{name[:190]}-{n}"


def _adoptable(session: Session, user_name: str, email: str | None) -> Identity | None:
    """A human made by hand with this name or email, not yet provisioned: adopted."""
    keys = [Identity.name == user_name, Identity.email == user_name.lower()]
    if email:
        keys.append(Identity.email == email.strip().lower())
    for human in session.scalars(
        sa.select(Identity).where(Identity.kind == IdentityKind.HUMAN, sa.or_(*keys))
    ):
        if human.status is not IdentityStatus.DEPROVISIONED and (
            session.get(ProvisionedUser, human.id) is None
        ):
            return human
    return None


def _manager(session: Session, row: ProvisionedUser | None, human: Identity) -> Identity | None:
    """The person's manager, if active: the enterprise extension's ``manager.value`` for
    a provisioned person, else a ``manager`` attribute (id, name or SCIM id)."""
    document = row.document if row is not None else None
    extension = (document or {}).get(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    ) or {}
    manager = extension.get("manager") if isinstance(extension, dict) else None
    if manager is None and row is None:
        manager = (human.attributes or {}).get("manager")
    ref = manager.get("value") if isinstance(manager, dict) else manager
    if not isinstance(ref, str) or not ref.strip():
        return None
    ref = ref.strip()
    found = session.get(Identity, ref.lower()) if is_id(ref.lower()) else None
    if found is None:
        linked = session.scalar(
            sa.select(ProvisionedUser.identity_id).where(
                sa.or_(ProvisionedUser.external_id == ref, ProvisionedUser.user_name == ref)
            )
        )
        found = session.get(Identity, linked) if linked else None
    if found is None:
        found = session.scalar(sa.select(Identity).where(Identity.name == ref))
    if found is None or found.kind is not IdentityKind.HUMAN or not found.is_active:
        return None
    return found


def _revoke_tokens(uow: UnitOfWork, actor: Actor, identity_id: str) -> int:
    live = uow.session.scalars(
        sa.select(ApiToken.id).where(
            ApiToken.identity_id == identity_id, ApiToken.revoked_at.is_(None)
        )
    ).all()
    for token_id in live:
        identities.revoke_api_token(uow, actor, token_id)
    return len(live)


def _readable_items(session: Session, holders: Sequence[Identity]) -> list[dict[str, str]]:
    """Vault items these identities read (the event log) or hold a live grant on (vault
    scopes of their tokens): the secrets a leaver may have copied."""
    ids = [h.id for h in holders]
    found: dict[str, dict[str, str]] = {}
    reads = session.execute(
        sa.select(Event.resource_id, Event.resource_name, Event.actor_name)
        .where(
            Event.action.in_(_READ_ACTIONS),
            Event.outcome == "success",
            Event.actor_id.in_(ids),
            Event.resource_id.is_not(None),
        )
        .distinct()
    ).all()
    for item_id, name, who in reads:
        found.setdefault(item_id, {"id": item_id, "name": name or item_id, "via": f"read by {who}"})
    granted: dict[str, str] = {}
    for scopes, who in session.execute(
        sa.select(ApiToken.scopes, Identity.name)
        .join(Identity, Identity.id == ApiToken.identity_id)
        .where(ApiToken.identity_id.in_(ids), ApiToken.revoked_at.is_(None))
    ):
        for scope in scopes or []:
            match = _VAULT_SCOPE.match(scope)
            if match:
                granted.setdefault(match.group(1), f"grant {scope} of {who}")
    if granted:
        every = "*" in granted
        query = sa.select(VaultItem.id, VaultItem.title, VaultItem.vault_id).where(
            VaultItem.deleted_at.is_(None)
        )
        if not every:
            query = query.where(VaultItem.vault_id.in_(list(granted)))
        for item_id, title, vault_id in session.execute(query):
            via = granted.get(vault_id) or granted["*"]
            found.setdefault(item_id, {"id": item_id, "name": title, "via": via})
    return sorted(found.values(), key=lambda i: (i["name"], i["id"]))


def _steps(
    session: Session, events: Sequence[tuple[Any, str, str | None, dict[str, Any] | None]]
) -> list[dict[str, Any]]:
    """Offboarding events as documents: when, by whom, why, what the event recorded, and
    the names of the identities and items it names by id (``names``)."""
    contexts = [dict(context or {}) for _, _, _, context in events]
    people = {
        i
        for c in contexts
        for i in [*c.get("suspended", []), *c.get("transferred", []), *c.get("kept", [])]
    } | {c["transferred_to"] for c in contexts if c.get("transferred_to")}
    items = {i for c in contexts for i in c.get("needs_rotation", [])}
    names: dict[str, str] = {}
    if people:
        for identity_id, name in session.execute(
            sa.select(Identity.id, Identity.name).where(Identity.id.in_(people))
        ):
            names[identity_id] = name
    if items:
        for item_id, title, vault_name in session.execute(
            sa.select(VaultItem.id, VaultItem.title, Vault.name)
            .join(Vault, Vault.id == VaultItem.vault_id)
            .where(VaultItem.id.in_(items))
        ):
            names[item_id] = f"{vault_name}/{title}"
    steps = []
    for (at, by, why, _), context in zip(events, contexts, strict=True):
        named = [
            *context.get("suspended", []),
            *context.get("transferred", []),
            *context.get("kept", []),
            *context.get("needs_rotation", []),
            *([context["transferred_to"]] if context.get("transferred_to") else []),
        ]
        steps.append(
            {
                "at": at.isoformat(),
                "by": by,
                "reason": why,
                **context,
                "names": {i: names.get(i, i) for i in named},
            }
        )
    return steps
