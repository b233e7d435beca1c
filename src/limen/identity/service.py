"""Identities and their lifecycle: create, look up, list, update, suspend, reactivate,
deprovision.

Every status change that takes an identity out of service (suspension, deprovisioning)
also sets its ``tokens_valid_after`` cut-off: whatever was issued to it, or on its
behalf, before that moment is never honoured again, even once it is reactivated.
Nothing here announces changes: the status view's session hook does, for every row.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, record
from limen.errors import InvalidInput, unknown_choice
from limen.identity.errors import (
    IdentityExists,
    IdentityNotFound,
    InvalidIdentity,
    LastAdmin,
    StatusConflict,
)
from limen.identity.status import IDENTITY_CHANGED_TOPIC
from limen.ids import is_id
from limen.store import UnitOfWork, dialect_of
from limen.store.cursor import InvalidCursor, decode_cursor, encode_cursor
from limen.store.models import (
    Containment,
    ContainmentMember,
    Identity,
    IdentityKind,
    IdentityStatus,
    Policy,
    utcnow,
)

__all__ = [
    "BUILTIN_ROLES",
    "UNCHANGED",
    "Census",
    "IdentityPage",
    "census",
    "create",
    "deprovision",
    "get",
    "known_roles",
    "list_identities",
    "oldest_first",
    "owned_by",
    "page_after",
    "page_cursor",
    "reactivate",
    "suspend",
    "update",
]

BUILTIN_ROLES = ("admin", "security-operator", "auditor", "viewer")
"""Roles Limen's built-in administrative policy knows (``limen policy show limen-admin``)."""
UNCHANGED: Any = object()
"""For :func:`update`: leave this field as it is."""

# Letters of any script and digits first; then also . _ @ + - and spaces.
_NAME = re.compile(r"^[^\W_][\w.@+\- ]{0,199}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ROLE = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")
_ROLE_IN_POLICY = re.compile(r"roles\s*\.\s*contains\s*\(\s*\"([^\"]{1,64})\"\s*\)")
MAX_ATTRIBUTES_BYTES = 16 * 1024


def create(
    uow: UnitOfWork,
    actor: Actor,
    *,
    kind: str,
    name: str,
    email: str | None = None,
    display_name: str | None = None,
    owner: str | None = None,
    roles: Iterable[str] = (),
    attributes: dict[str, Any] | None = None,
    managed: bool = True,
    spare_from_kill_switch: bool = False,
) -> Identity:
    """Create an identity; an agent must name its owning human (by id, name or email).

    While a kill switch covers its kind, a new identity starts suspended and held by the
    switch (released with it), unless ``spare_from_kill_switch`` (a partner's).
    """
    session = uow.session
    identity_kind = _parse_kind(kind)
    name = _valid_name(name)
    email = _valid_email(email)
    role_list = _valid_roles(session, roles, identity_kind)
    attributes = _valid_attributes(attributes)

    owner_row: Identity | None = None
    if owner:
        owner_row = _valid_owner(session, owner, identity_kind)
    elif identity_kind is IdentityKind.AGENT and managed:
        # Discovered (unmanaged) agents are found before anyone has claimed them.
        raise InvalidIdentity("an agent must name its owning human with --owner / owner")

    if session.scalar(sa.select(Identity.id).where(Identity.name == name)):
        raise IdentityExists(f"an identity named {name!r} already exists")
    if email and session.scalar(sa.select(Identity.id).where(Identity.email == email)):
        raise IdentityExists(f"an identity with email {email!r} already exists")

    identity = Identity(
        kind=identity_kind,
        name=name,
        email=email,
        display_name=display_name,
        owner_id=owner_row.id if owner_row else None,
        roles=role_list,
        attributes=attributes or {},
        managed=managed,
        status=IdentityStatus.ACTIVE,
    )
    switch = None if spare_from_kill_switch else _engaged_switch(session, identity_kind)
    if switch is not None:
        identity.status = IdentityStatus.SUSPENDED
        identity.status_reason = f"kill switch ({identity_kind}) engaged"
        identity.status_changed_at = identity.tokens_valid_after = utcnow()
    session.add(identity)
    uow.flush()
    if switch is not None:
        session.add(
            ContainmentMember(
                containment_id=switch,
                identity_id=identity.id,
                suspended_at=identity.status_changed_at,
            )
        )
        uow.flush()
    record(
        session,
        actor,
        "identity.create",
        resource_type="identity",
        resource_id=identity.id,
        resource_name=identity.name,
        context={"kind": str(identity.kind), "owner_id": identity.owner_id},
    )
    return identity


def get(session: Session, ref: str) -> Identity:
    """Find an identity by id, name or email."""
    ref = (ref or "").strip()
    if not ref:
        raise InvalidInput("name an identity by id, name or email")
    identity = session.get(Identity, ref) if is_id(ref) else None
    if identity is None:
        identity = session.scalar(
            sa.select(Identity).where(sa.or_(Identity.name == ref, Identity.email == ref.lower()))
        )
    if identity is None:
        raise IdentityNotFound(f"no identity {ref!r}")
    return identity


@dataclass(frozen=True, slots=True)
class IdentityPage:
    identities: Sequence[Identity]
    next_cursor: str | None


def list_identities(
    session: Session,
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
    """Identities oldest first, a page at a time (keyset pagination on creation time and id).

    ``managed=False`` keeps the shadow identities discovery reported; ``q`` keeps those
    whose name, display name or email contains it (case-insensitive); ``risk_at_least``
    those whose ``risk`` attribute (0-100, set by detection) is at least that;
    ``unowned`` those without an owner (people, and machines nobody owns).
    """
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000")
    query = sa.select(Identity)
    if kind:
        query = query.where(Identity.kind == _parse_kind(kind))
    if status:
        query = query.where(Identity.status == _parse_status(status))
    if owner:
        query = query.where(Identity.owner_id == get(session, owner).id)
    if managed is not None:
        query = query.where(Identity.managed.is_(managed))
    if unowned:
        query = query.where(Identity.owner_id.is_(None))
    if risk_at_least is not None:
        risk = dialect_of(session).json_number("identities.attributes", "risk")
        query = query.where(
            sa.text(f"{risk} >= :risk_at_least").bindparams(risk_at_least=risk_at_least)
        )
    if q and q.strip():
        if len(q) > 200:
            raise InvalidInput("search text is limited to 200 characters")
        pattern = f"%{_escape_like(q.strip().lower())}%"
        query = query.where(
            sa.or_(
                *(
                    sa.func.lower(column).like(pattern, escape="\\")
                    for column in (Identity.name, Identity.display_name, Identity.email)
                )
            )
        )
    rows, more = oldest_first(
        session, query, after=page_after(after) if after else None, limit=limit
    )
    cursor = page_cursor(rows[-1]) if more and rows else None
    return IdentityPage(rows, cursor)


@dataclass(frozen=True, slots=True)
class Census:
    """How many identities there are: by kind (shadow ones included), how many of them
    are shadow identities (``managed = False``), and by status."""

    by_kind: dict[str, int]
    shadow: int
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


def census(session: Session) -> Census:
    """One grouped count over the identities table (what the console's overview shows)."""
    rows = session.execute(
        sa.select(Identity.kind, Identity.status, Identity.managed, sa.func.count()).group_by(
            Identity.kind, Identity.status, Identity.managed
        )
    ).all()
    by_kind = {str(kind): 0 for kind in IdentityKind}
    by_status = {str(status): 0 for status in IdentityStatus}
    shadow = 0
    for kind, status, managed, count in rows:
        by_kind[str(kind)] += count
        by_status[str(status)] += count
        if not managed:
            shadow += count
    return Census(by_kind=by_kind, shadow=shadow, by_status=by_status)


def owned_by(
    session: Session, owner_ids: Sequence[str], *, limit_each: int = 10
) -> dict[str, tuple[list[Identity], int]]:
    """For each owner, the first ``limit_each`` identities it owns (oldest first) and how
    many it owns in all: two queries, whatever the number of owners."""
    if not owner_ids:
        return {}
    ids = list(dict.fromkeys(owner_ids))
    totals = dict(
        session.execute(
            sa.select(Identity.owner_id, sa.func.count())
            .where(Identity.owner_id.in_(ids))
            .group_by(Identity.owner_id)
        ).all()
    )
    place = (
        sa.func.row_number()
        .over(partition_by=Identity.owner_id, order_by=(Identity.created_at, Identity.id))
        .label("place")
    )
    ranked = sa.select(Identity.id, place).where(Identity.owner_id.in_(ids)).subquery()
    rows = session.scalars(
        sa.select(Identity)
        .join(ranked, ranked.c.id == Identity.id)
        .where(ranked.c.place <= limit_each)
        .order_by(Identity.created_at, Identity.id)
    )
    found: dict[str, tuple[list[Identity], int]] = {i: ([], totals.get(i, 0)) for i in ids}
    for row in rows:
        found[str(row.owner_id)][0].append(row)
    return found


def oldest_first(
    session: Session,
    query: sa.Select[tuple[Identity]],
    *,
    after: tuple[datetime, str] | None,
    limit: int,
) -> tuple[list[Identity], bool]:
    """One page of ``query``'s identities, oldest first, after the ``(created_at, id)``
    of the previous page's last (keyset pagination: a page never shifts when identities
    are added meanwhile); and whether more follow."""
    query = query.order_by(Identity.created_at, Identity.id).limit(limit + 1)
    if after is not None:
        created, last_id = after
        query = query.where(
            sa.or_(
                Identity.created_at > created,
                sa.and_(Identity.created_at == created, Identity.id > last_id),
            )
        )
    rows = list(session.scalars(query))
    return rows[:limit], len(rows) > limit


def update(
    uow: UnitOfWork,
    actor: Actor,
    ref: str,
    *,
    display_name: str | None = UNCHANGED,
    email: str | None = UNCHANGED,
    roles: Iterable[str] = UNCHANGED,
    owner: str | None = UNCHANGED,
    attributes: dict[str, Any] | None = UNCHANGED,
) -> Identity:
    """Change what an identity is described by; fields left :data:`UNCHANGED` stay.

    A new owner also sets the cut-off: what the identity held under its old owner's
    authority is not carried over to the new one's.
    """
    session = uow.session
    identity = get(session, ref)
    if identity.status is IdentityStatus.DEPROVISIONED:
        raise StatusConflict(f"{identity.name!r} is deprovisioned and cannot be changed")
    changes: dict[str, Any] = {}
    if display_name is not UNCHANGED:
        value = (display_name or "").strip() or None
        if value is not None and len(value) > 200:
            raise InvalidIdentity("display name is limited to 200 characters")
        changes["display_name"] = value
    if email is not UNCHANGED:
        value = _valid_email(email)
        if value and session.scalar(
            sa.select(Identity.id).where(Identity.email == value, Identity.id != identity.id)
        ):
            raise IdentityExists(f"an identity with email {value!r} already exists")
        changes["email"] = value
    if roles is not UNCHANGED:
        role_list = _valid_roles(session, roles, identity.kind)
        if (
            identity.is_admin
            and "admin" not in role_list
            and identity.is_active
            and _active_admins(session) <= 1
        ):
            raise LastAdmin(f"{identity.name!r} is the last active admin; make another admin first")
        changes["roles"] = role_list
    if owner is not UNCHANGED:
        if identity.kind is IdentityKind.HUMAN:
            if owner:
                raise InvalidIdentity("humans do not have owners")
        elif not owner:
            if identity.kind is IdentityKind.AGENT:
                raise InvalidIdentity("an agent must have an owning human")
            changes["owner_id"] = None
        else:
            changes["owner_id"] = _valid_owner(session, owner, identity.kind).id
    if attributes is not UNCHANGED:
        changes["attributes"] = _valid_attributes(attributes) or {}
    changed = {k: v for k, v in changes.items() if getattr(identity, k) != v}
    if not changed:
        return identity
    for key, value in changed.items():
        setattr(identity, key, value)
    if "owner_id" in changed:
        identity.tokens_valid_after = utcnow()
    uow.flush()
    record(
        session,
        actor,
        "identity.update",
        resource_type="identity",
        resource_id=identity.id,
        resource_name=identity.name,
        # Which fields changed, and the new roles and owner; attribute values may be
        # anything an operator typed, so only their names are recorded.
        context={
            "changed": sorted(changed),
            **({"roles": changed["roles"]} if "roles" in changed else {}),
            **({"owner_id": changed["owner_id"]} if "owner_id" in changed else {}),
            **({"attributes": sorted(changed["attributes"])} if "attributes" in changed else {}),
        },
    )
    return identity


def suspend(
    uow: UnitOfWork,
    actor: Actor,
    ref: str,
    *,
    reason: str | None = None,
    via: str = "suspend",
) -> Identity:
    """Suspend an identity: from the commit on, nothing it holds is honoured, and nothing
    issued to it (or on its behalf) before the commit ever is again.

    ``via`` says how (``suspend``, ``killswitch``, ``playbook``, ``provisioning``): it
    travels with the change notice, so every node counts the containment by it
    (``StatusView.on_contained``). Idempotent: suspending a suspended identity changes
    nothing and records nothing.
    """
    identity = get(uow.session, ref)
    if identity.status is IdentityStatus.SUSPENDED:
        return identity
    if identity.status is IdentityStatus.DEPROVISIONED:
        raise StatusConflict(f"{identity.name!r} is deprovisioned and cannot be suspended")
    if identity.is_admin and _active_admins(uow.session) <= 1:
        raise LastAdmin(f"{identity.name!r} is the last active admin; make another admin first")
    suspended = _set_status(
        uow, actor, identity, IdentityStatus.SUSPENDED, reason, "identity.suspend"
    )
    uow.collect(IDENTITY_CHANGED_TOPIC, identity.id, {"via": via})
    return suspended


def deprovision(uow: UnitOfWork, actor: Actor, ref: str, *, reason: str | None = None) -> Identity:
    """Take an identity out of service for good; its history stays. Idempotent.

    What it owns and holds is the caller's to handle (``respond.deprovision`` suspends
    its machines and revokes its credentials).
    """
    identity = get(uow.session, ref)
    if identity.status is IdentityStatus.DEPROVISIONED:
        return identity
    if identity.is_admin and identity.is_active and _active_admins(uow.session) <= 1:
        raise LastAdmin(f"{identity.name!r} is the last active admin; make another admin first")
    return _set_status(
        uow, actor, identity, IdentityStatus.DEPROVISIONED, reason, "identity.deprovision"
    )


def reactivate(uow: UnitOfWork, actor: Actor, ref: str, *, reason: str | None = None) -> Identity:
    """Make a suspended identity active again. Idempotent."""
    identity = get(uow.session, ref)
    if identity.status is IdentityStatus.ACTIVE:
        return identity
    if identity.status is IdentityStatus.DEPROVISIONED:
        raise StatusConflict(f"{identity.name!r} is deprovisioned and cannot be reactivated")
    return _set_status(uow, actor, identity, IdentityStatus.ACTIVE, reason, "identity.reactivate")


def _set_status(
    uow: UnitOfWork,
    actor: Actor,
    identity: Identity,
    status: IdentityStatus,
    reason: str | None,
    action: str,
) -> Identity:
    previous = identity.status
    now = utcnow()
    identity.status = status
    identity.status_reason = reason
    identity.status_changed_at = now
    if status is not IdentityStatus.ACTIVE:
        identity.tokens_valid_after = now
    uow.flush()
    record(
        uow.session,
        actor,
        action,
        resource_type="identity",
        resource_id=identity.id,
        resource_name=identity.name,
        reason=reason,
        context={"kind": str(identity.kind), "from": str(previous), "to": str(status)},
    )
    return identity


def _engaged_switch(session: Session, kind: IdentityKind) -> str | None:
    return session.scalar(
        sa.select(Containment.id).where(
            Containment.kind == "kill-switch",
            Containment.target_kind == str(kind),
            Containment.released_at.is_(None),
        )
    )


def known_roles(session: Session) -> list[str]:
    """The built-in roles and every role a policy names (an administrative policy's roles
    are Limen's own; an access policy's are an application's, e.g. ``editor``)."""
    roles = set(BUILTIN_ROLES)
    realms = ("admin", "access")
    for text in session.scalars(sa.select(Policy.text).where(Policy.realm.in_(realms))):
        roles.update(_ROLE_IN_POLICY.findall(text))
    return sorted(roles)


def _valid_name(name: str) -> str:
    name = unicodedata.normalize("NFC", (name or "").strip())
    if not _NAME.match(name):
        raise InvalidIdentity(
            "name must be 1-200 characters: letters (of any script), digits, and . _ @ + - "
            "or space, starting with a letter or digit"
        )
    return name


def _valid_email(email: str | None) -> str | None:
    if email is None:
        return None
    email = email.strip().lower()
    if not email:
        return None
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidIdentity(f"{email[:100]!r} is not an email address")
    return email


def _valid_roles(session: Session, roles: Iterable[str], kind: IdentityKind) -> list[str]:
    if isinstance(roles, str):
        roles = [roles]
    role_list = sorted({str(role).strip() for role in roles if str(role).strip()})
    if role_list and kind is not IdentityKind.HUMAN:
        raise InvalidIdentity(
            "only humans hold roles; agents and services act within the scopes their "
            "credentials were granted, and never beyond their owner's roles"
        )
    if not role_list:
        return []
    known = known_roles(session)
    for role in role_list:
        if not _ROLE.match(role) or role not in known:
            raise InvalidIdentity(
                f"unknown role {role[:64]!r}; known roles: {', '.join(known)} "
                "(an administrative policy can define more: see docs/security-model.md)"
            )
    return role_list


def _valid_attributes(attributes: Any) -> dict[str, Any] | None:
    if attributes is None:
        return None
    if not isinstance(attributes, dict):
        raise InvalidIdentity("attributes must be a JSON object")
    try:
        size = len(json.dumps(attributes, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError):
        raise InvalidIdentity("attributes must be plain JSON") from None
    if size > MAX_ATTRIBUTES_BYTES:
        raise InvalidIdentity(f"attributes are limited to {MAX_ATTRIBUTES_BYTES} bytes of JSON")
    return attributes


def _valid_owner(session: Session, owner: str, kind: IdentityKind) -> Identity:
    try:
        owner_row = get(session, owner)
    except IdentityNotFound:
        raise InvalidIdentity(f"owner {owner[:200]!r} does not exist") from None
    if owner_row.kind is not IdentityKind.HUMAN:
        raise InvalidIdentity(f"owner {owner!r} is a {owner_row.kind}; owners must be humans")
    if kind is IdentityKind.HUMAN:
        raise InvalidIdentity("humans do not have owners")
    if owner_row.status is IdentityStatus.DEPROVISIONED:
        raise InvalidIdentity(f"owner {owner!r} is deprovisioned")
    return owner_row


def _active_admins(session: Session) -> int:
    admins = session.scalars(
        sa.select(Identity).where(
            Identity.kind == IdentityKind.HUMAN, Identity.status == IdentityStatus.ACTIVE
        )
    )
    return sum(1 for identity in admins if identity.is_admin)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _parse_kind(kind: str) -> IdentityKind:
    try:
        return IdentityKind(str(kind).strip().lower())
    except ValueError:
        raise InvalidIdentity(
            unknown_choice("kind", kind, (k.value for k in IdentityKind))
        ) from None


def _parse_status(status: str) -> IdentityStatus:
    try:
        return IdentityStatus(str(status).strip().lower())
    except ValueError:
        raise InvalidInput(
            unknown_choice("status", status, (s.value for s in IdentityStatus))
        ) from None


def page_cursor(last: Identity, listing: str = "identities") -> str:
    """The cursor of the page after ``last`` in an oldest-first listing of identities
    (:func:`oldest_first`); ``listing`` names the list and any filter it must keep."""
    return encode_cursor(listing, [last.created_at.isoformat(), last.id])


def page_after(
    cursor: str, listing: str = "identities", *, name: str = "cursor"
) -> tuple[datetime, str]:
    """The ``(created_at, id)`` a :func:`page_cursor` of ``listing`` continues after."""
    values = decode_cursor(cursor, listing, name=name)
    try:
        created, last_id = values
        when = datetime.fromisoformat(str(created))
        if when.tzinfo is None or not is_id(str(last_id)):
            raise ValueError
    except ValueError:
        raise InvalidCursor(f"invalid cursor: {name} is not one this server issued") from None
    return when, str(last_id)
