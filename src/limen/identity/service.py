"""Identities and their lifecycle: create, look up, list, suspend, reactivate."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, record
from limen.errors import InvalidInput
from limen.identity.errors import (
    IdentityExists,
    IdentityNotFound,
    InvalidIdentity,
    LastAdmin,
    StatusConflict,
)
from limen.ids import is_id
from limen.store import UnitOfWork
from limen.store.models import Identity, IdentityKind, IdentityStatus, utcnow

__all__ = [
    "STATUS_TOPIC",
    "IdentityPage",
    "create",
    "get",
    "list_identities",
    "reactivate",
    "suspend",
]

STATUS_TOPIC = "identity.status"
"""Published after commit whenever an identity's status changes; payload ``{"id", "status"}``."""

KNOWN_ROLES = frozenset({"admin"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+\- ]{0,199}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
) -> Identity:
    """Create an identity; an agent must name its owning human (by id, name or email)."""
    session = uow.session
    identity_kind = _parse_kind(kind)
    name = (name or "").strip()
    if not _NAME.match(name):
        raise InvalidIdentity(
            "name must be 1-200 characters: letters, digits, and . _ @ + - or space, "
            "starting with a letter or digit"
        )
    if email is not None:
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise InvalidIdentity(f"{email!r} is not an email address")
    role_list = sorted(set(roles))
    unknown = set(role_list) - KNOWN_ROLES
    if unknown:
        raise InvalidIdentity(f"unknown role {sorted(unknown)[0]!r}; known roles: admin")
    if role_list and identity_kind is not IdentityKind.HUMAN:
        raise InvalidIdentity("only humans can hold roles")
    if attributes is not None and not isinstance(attributes, dict):
        raise InvalidIdentity("attributes must be a JSON object")

    owner_row: Identity | None = None
    if owner:
        try:
            owner_row = get(session, owner)
        except IdentityNotFound:
            raise InvalidIdentity(f"owner {owner!r} does not exist") from None
        if owner_row.kind is not IdentityKind.HUMAN:
            raise InvalidIdentity(f"owner {owner!r} is a {owner_row.kind}; owners must be humans")
        if identity_kind is IdentityKind.HUMAN:
            raise InvalidIdentity("humans do not have owners")
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
    session.add(identity)
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
    after: str | None = None,
    limit: int = 100,
) -> IdentityPage:
    """Identities oldest first, a page at a time (keyset pagination on creation time and id)."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000")
    query = sa.select(Identity).order_by(Identity.created_at, Identity.id).limit(limit + 1)
    if kind:
        query = query.where(Identity.kind == _parse_kind(kind))
    if status:
        query = query.where(Identity.status == _parse_status(status))
    if owner:
        query = query.where(Identity.owner_id == get(session, owner).id)
    if after:
        created, last_id = _decode_cursor(after)
        query = query.where(
            sa.or_(
                Identity.created_at > created,
                sa.and_(Identity.created_at == created, Identity.id > last_id),
            )
        )
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = _encode_cursor(rows[-1]) if more and rows else None
    return IdentityPage(rows, cursor)


def suspend(uow: UnitOfWork, actor: Actor, ref: str, *, reason: str | None = None) -> Identity:
    """Suspend an identity: from the commit on, nothing it holds is honoured.

    Idempotent: suspending a suspended identity changes nothing and records nothing.
    """
    identity = get(uow.session, ref)
    if identity.status is IdentityStatus.SUSPENDED:
        return identity
    if identity.status is IdentityStatus.DEPROVISIONED:
        raise StatusConflict(f"{identity.name!r} is deprovisioned and cannot be suspended")
    if identity.is_admin and _active_admins(uow.session) <= 1:
        raise LastAdmin(f"{identity.name!r} is the last active admin; make another admin first")
    return _set_status(uow, actor, identity, IdentityStatus.SUSPENDED, reason, "identity.suspend")


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
    identity.status = status
    identity.status_reason = reason
    identity.status_changed_at = utcnow()
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
    uow.publish(STATUS_TOPIC, {"id": identity.id, "status": str(status)})
    return identity


def _active_admins(session: Session) -> int:
    admins = session.scalars(
        sa.select(Identity).where(
            Identity.kind == IdentityKind.HUMAN, Identity.status == IdentityStatus.ACTIVE
        )
    )
    return sum(1 for identity in admins if identity.is_admin)


def _parse_kind(kind: str) -> IdentityKind:
    try:
        return IdentityKind(str(kind).strip().lower())
    except ValueError:
        raise InvalidIdentity(
            f"unknown kind {kind!r}; use one of {', '.join(k.value for k in IdentityKind)}"
        ) from None


def _parse_status(status: str) -> IdentityStatus:
    try:
        return IdentityStatus(str(status).strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown status {status!r}; use one of {', '.join(s.value for s in IdentityStatus)}"
        ) from None


def _encode_cursor(identity: Identity) -> str:
    raw = f"{identity.created_at.isoformat()}|{identity.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, last_id = raw.split("|", 1)
        when = datetime.fromisoformat(created)
        if when.tzinfo is None or not is_id(last_id):
            raise ValueError
    except ValueError:
        raise InvalidInput("the cursor is not one this server issued") from None
    return when, last_id
