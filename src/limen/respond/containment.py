"""Containment: suspend an identity and cut off what it holds; cascades and kill switches.

Suspension itself is the identity package's (status is read live on every request, on
every node). This module adds what an incident responder needs around it:

- :func:`contain` suspends one identity and revokes its live bearer tokens, so that a
  stolen token does not come back to life when the identity is reactivated; with
  ``cascade`` it also suspends the machine identities the human owns, and remembers
  exactly which ones, so :func:`release` with ``cascade`` reactivates those and no others.
- :func:`engage` / :func:`disengage`: the kill switch suspends every active identity of
  one machine kind at once (and, while engaged, holds any identity of that kind that
  appears: the status view refuses them too), and disengaging reactivates what it
  suspended, and only that. Like every suspension it cuts off what those identities
  held: after disengaging, clients get new tokens and opaque tokens must be reissued.
  Registered partners (``limen partner create``) and the identity that engaged the
  switch are spared.
- :func:`deprovision` takes an identity out of service for good: it is marked
  ``deprovisioned``, the machines it owns are suspended (a cascade), and its API tokens
  and OAuth clients are revoked; its history stays.

Every step is an event naming the actor (the partner, the operator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen import identity as identities
from limen import tokens
from limen.audit import Actor, record
from limen.errors import InvalidInput
from limen.ids import is_id
from limen.respond._kinds import KILL_SWITCH_KINDS
from limen.respond.errors import KillSwitchNotEngaged, WrongKind
from limen.store import Lookup, UnitOfWork
from limen.store.models import (
    ApiToken,
    Containment,
    ContainmentMember,
    Identity,
    IdentityKind,
    IdentityStatus,
    OAuthClient,
    Partner,
    utcnow,
)

__all__ = [
    "KILL_SWITCH_KINDS",
    "Contained",
    "contain",
    "deprovision",
    "disengage",
    "engage",
    "engaged_kill_switches",
    "find",
    "release",
    "require_fresh_token",
    "revoke_tokens",
]

CASCADE = "cascade"
KILL_SWITCH = "kill-switch"


@dataclass(slots=True)
class Contained:
    """What one containment call did."""

    identity: Identity
    cascaded: list[Identity] = field(default_factory=list)
    revoked_tokens: int = 0
    containment_id: str | None = None


def find(session: Session, ref: str, *, kind: str | None = None) -> Identity:
    """Find an identity by id (any letter case), name or email, optionally of one kind.

    Deprovisioned identities are not found: they no longer exist for partners.
    """
    ref = (ref or "").strip()
    found = None
    if is_id(ref.lower()):
        # Ids are base32; partners (like 1Password's) may send them upper-case.
        found = session.get(Identity, ref.lower())
    found = found or identities.get(session, ref)
    if found.status is IdentityStatus.DEPROVISIONED or (kind and str(found.kind) != kind):
        raise WrongKind(f"no {kind or 'identity'} {ref!r}")
    return found


def contain(
    uow: UnitOfWork,
    actor: Actor,
    ref: str,
    *,
    kind: str | None = None,
    reason: str | None = None,
    cascade: bool = False,
    via: str = "suspend",
) -> Contained:
    """Suspend an identity and revoke its live tokens; with ``cascade``, its machines too
    (``via``: how, as ``identity.suspend`` takes it).

    Idempotent: an identity already suspended stays so; tokens issued since are revoked.
    Raises :class:`~limen.identity.LastAdmin` rather than leave no active admin.
    """
    target = find(uow.session, ref, kind=kind)
    # Looked up before anything is recorded: a query with events pending writes them
    # first, and this way they go in one insert at commit.
    live = _live_tokens(uow.session, target)
    suspended = identities.suspend(uow, actor, target.id, reason=reason, via=via)
    result = Contained(suspended, revoked_tokens=_revoke(uow, actor, live))
    if cascade and suspended.kind is IdentityKind.HUMAN:
        owned = list(
            uow.session.scalars(
                sa.select(Identity)
                .where(
                    Identity.owner_id == suspended.id,
                    Identity.status == IdentityStatus.ACTIVE,
                )
                .order_by(Identity.created_at, Identity.id)
            )
        )
        if owned:
            containment = Containment(
                kind=CASCADE, root_id=suspended.id, reason=reason, engaged_by=actor.name
            )
            uow.session.add(containment)
            uow.flush()
            why = f"owner {suspended.name} suspended" + (f": {reason}" if reason else "")
            for machine in owned:
                identities.suspend(uow, actor, machine.id, reason=why, via=via)
                result.revoked_tokens += _revoke(uow, actor, _live_tokens(uow.session, machine))
                _add_member(uow, containment, machine)
                result.cascaded.append(machine)
            result.containment_id = containment.id
            record(
                uow.session,
                actor,
                "containment.cascade",
                resource_type="identity",
                resource_id=suspended.id,
                resource_name=suspended.name,
                reason=reason,
                context={
                    "containment_id": containment.id,
                    "suspended": [m.id for m in owned],
                },
            )
    return result


def revoke_tokens(uow: UnitOfWork, actor: Actor, ref: str, *, reason: str | None = None) -> int:
    """Revoke every live token the identity holds and cut off every access token issued
    to it until now; it stays active. Returns how many tokens were revoked."""
    target = find(uow.session, ref)
    revoked = _revoke(uow, actor, _live_tokens(uow.session, target))
    _cut_off(uow, actor, target, reason, revoked=revoked)
    return revoked


def require_fresh_token(
    uow: UnitOfWork, actor: Actor, ref: str, *, reason: str | None = None
) -> None:
    """Refuse every token issued to the identity until now, without revoking or suspending
    anything: it stays active, and a token it obtains from now on (its client credentials,
    a token exchange, a new API token) works at once."""
    _cut_off(uow, actor, find(uow.session, ref), reason)


def _cut_off(
    uow: UnitOfWork,
    actor: Actor,
    target: Identity,
    reason: str | None,
    *,
    revoked: int | None = None,
) -> None:
    target.tokens_valid_after = utcnow()  # the status view tells every node
    uow.flush()
    context: dict[str, object] = {"tokens_valid_after": target.tokens_valid_after.isoformat()}
    if revoked is not None:
        context["revoked_tokens"] = revoked
    record(
        uow.session,
        actor,
        "identity.cut_off",
        resource_type="identity",
        resource_id=target.id,
        resource_name=target.name,
        reason=reason,
        context=context,
    )


def release(
    uow: UnitOfWork,
    actor: Actor,
    ref: str,
    *,
    kind: str | None = None,
    reason: str | None = None,
    cascade: bool = False,
) -> Contained:
    """Reactivate an identity; revoked tokens stay revoked. Idempotent.

    With ``cascade``, also reactivate the machines that cascades from this identity
    suspended, unless their status changed since (someone else decided about them).
    """
    target = find(uow.session, ref, kind=kind)
    reactivated = identities.reactivate(uow, actor, target.id, reason=reason)
    result = Contained(reactivated)
    if cascade:
        cascades = uow.session.scalars(
            sa.select(Containment).where(
                Containment.kind == CASCADE,
                Containment.root_id == reactivated.id,
                Containment.released_at.is_(None),
            )
        ).all()
        for containment in cascades:
            back, _ = _release(uow, actor, containment, reason=reason)
            result.cascaded.extend(back)
            result.containment_id = containment.id
    return result


def engage(
    uow: UnitOfWork, actor: Actor, *, kind: str, reason: str | None = None
) -> tuple[Containment, list[str]]:
    """Suspend every active identity of ``kind`` (``agent`` or ``service``) at once.

    Returns the switch and the ids this call suspended.

    Engaging an engaged switch suspends what has appeared since and adds it to the same
    switch. Partner identities and the actor itself are spared, so the tool that pulled
    the switch can still release it.
    """
    target_kind = _kill_switch_kind(kind)
    containment = _engaged(uow.session, target_kind)
    if containment is None:
        containment = Containment(
            kind=KILL_SWITCH,
            target_kind=str(target_kind),
            reason=reason,
            engaged_by=actor.name,
            engaged_by_id=actor.identity_id,
        )
        uow.session.add(containment)
        uow.flush()
    candidates = uow.session.scalars(
        sa.select(Identity)
        .where(Identity.kind == target_kind, Identity.status == IdentityStatus.ACTIVE)
        .order_by(Identity.created_at, Identity.id)
    ).all()
    partners = set(uow.session.scalars(sa.select(Partner.identity_id)))
    spare = {containment.engaged_by_id, actor.identity_id} - {None}
    why = f"kill switch ({target_kind})" + (f": {reason}" if reason else "")
    suspended: list[str] = []
    spared: list[str] = []
    for candidate in candidates:
        if candidate.id in spare or candidate.id in partners:
            spared.append(candidate.id)
            continue
        identities.suspend(uow, actor, candidate.id, reason=why, via="killswitch")
        _add_member(uow, containment, candidate)
        suspended.append(candidate.id)
    record(
        uow.session,
        actor,
        "killswitch.engage",
        resource_type="kill_switch",
        resource_id=containment.id,
        resource_name=str(target_kind),
        reason=reason,
        context={"kind": str(target_kind), "suspended": suspended, "spared": spared},
    )
    return containment, suspended


def disengage(
    uow: UnitOfWork, actor: Actor, *, kind: str, reason: str | None = None
) -> tuple[Containment, list[str], list[str]]:
    """Reactivate what the engaged kill switch for ``kind`` suspended, and nothing else.

    Returns the switch, the ids reactivated, and the ids left alone because their status
    changed after the switch suspended them.
    """
    target_kind = _kill_switch_kind(kind)
    containment = _engaged(uow.session, target_kind)
    if containment is None:
        raise KillSwitchNotEngaged(f"no kill switch is engaged for {target_kind}s")
    reactivated, left = _release(uow, actor, containment, reason=reason)
    record(
        uow.session,
        actor,
        "killswitch.disengage",
        resource_type="kill_switch",
        resource_id=containment.id,
        resource_name=str(target_kind),
        reason=reason,
        context={
            "kind": str(target_kind),
            "reactivated": [i.id for i in reactivated],
            "left_alone": left,
        },
    )
    return containment, [i.id for i in reactivated], left


def deprovision(uow: UnitOfWork, actor: Actor, ref: str, *, reason: str | None = None) -> Contained:
    """Take an identity out of service for good: suspend the machines it owns (a
    cascade), revoke its API tokens and OAuth clients, and mark it ``deprovisioned``.
    Idempotent; its history stays. Raises :class:`~limen.identity.LastAdmin` rather
    than leave no active admin."""
    lowered = (ref or "").strip().lower()
    target = identities.get(uow.session, lowered if is_id(lowered) else ref)
    if target.status is IdentityStatus.DEPROVISIONED:
        return Contained(target)
    result = Contained(target)
    if target.status is IdentityStatus.ACTIVE:
        result = contain(uow, actor, target.id, reason=reason, cascade=True)
    else:
        result.revoked_tokens = _revoke(uow, actor, _live_tokens(uow.session, target))
    clients = uow.session.scalars(
        sa.select(OAuthClient.client_id).where(
            OAuthClient.identity_id == target.id, OAuthClient.revoked_at.is_(None)
        )
    ).all()
    for client_id in clients:
        tokens.revoke_client(uow, actor, client_id)
    result.identity = identities.deprovision(uow, actor, target.id, reason=reason)
    return result


def engaged_kill_switches(session: Session) -> Sequence[tuple[Containment, int]]:
    """Engaged kill switches with how many identities each holds suspended."""
    rows = session.execute(
        sa.select(Containment, sa.func.count(ContainmentMember.identity_id))
        .outerjoin(ContainmentMember, ContainmentMember.containment_id == Containment.id)
        .where(Containment.kind == KILL_SWITCH, Containment.released_at.is_(None))
        .group_by(Containment.id)
        .order_by(Containment.engaged_at)
    ).all()
    return [(row[0], int(row[1])) for row in rows]


def _release(
    uow: UnitOfWork, actor: Actor, containment: Containment, *, reason: str | None
) -> tuple[list[Identity], list[str]]:
    now = utcnow()
    members = uow.session.scalars(
        sa.select(ContainmentMember).where(
            ContainmentMember.containment_id == containment.id,
            ContainmentMember.released_at.is_(None),
        )
    ).all()
    reactivated: list[Identity] = []
    left: list[str] = []
    why = reason or f"{containment.kind} released"
    for member in members:
        held = uow.session.get(Identity, member.identity_id)
        member.released_at = now
        # Only undo our own suspension: if anyone changed the status since, their
        # decision stands (a partner may have suspended it again for its own reasons).
        if (
            held is not None
            and held.status is IdentityStatus.SUSPENDED
            and held.status_changed_at == member.suspended_at
        ):
            reactivated.append(identities.reactivate(uow, actor, held.id, reason=why))
            member.release_outcome = "reactivated"
        else:
            left.append(member.identity_id)
            member.release_outcome = "changed-since"
    containment.released_at = now
    containment.released_by = actor.name
    uow.flush()
    return reactivated, left


def _add_member(uow: UnitOfWork, containment: Containment, suspended: Identity) -> None:
    existing = uow.session.get(ContainmentMember, (containment.id, suspended.id))
    if existing is None:
        uow.session.add(
            ContainmentMember(
                containment_id=containment.id,
                identity_id=suspended.id,
                suspended_at=suspended.status_changed_at or utcnow(),
            )
        )
    else:
        existing.suspended_at = suspended.status_changed_at or utcnow()
        existing.released_at = None
        existing.release_outcome = None
    uow.flush()


# Built once: on the containment path, composing the statement costs more than running it.
_LIVE_TOKENS = Lookup(
    sa.select(ApiToken.id).where(
        ApiToken.identity_id == sa.bindparam("identity_id"), ApiToken.revoked_at.is_(None)
    )
)


def _live_tokens(session: Session, held_by: Identity) -> Sequence[str]:
    return [row.id for row in _LIVE_TOKENS.all(session, identity_id=held_by.id)]


def _revoke(uow: UnitOfWork, actor: Actor, token_ids: Sequence[str]) -> int:
    for token_id in token_ids:
        identities.revoke_api_token(uow, actor, token_id)
    return len(token_ids)


def _engaged(session: Session, kind: IdentityKind) -> Containment | None:
    return session.scalar(
        sa.select(Containment).where(
            Containment.kind == KILL_SWITCH,
            Containment.target_kind == str(kind),
            Containment.released_at.is_(None),
        )
    )


def _kill_switch_kind(kind: str) -> IdentityKind:
    try:
        parsed = IdentityKind(str(kind).strip().lower())
    except ValueError:
        parsed = None
    if parsed not in KILL_SWITCH_KINDS:
        raise InvalidInput(f"the kill switch covers agent or service identities, not {kind!r}")
    return parsed
