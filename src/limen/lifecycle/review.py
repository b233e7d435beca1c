"""Access review: what each agent and service can reach, through what, on whose behalf,
and what it actually used (from the event log).

For every non-human identity that is not deprovisioned:

- **rights**: vaults (and their items) through the vault scopes of its live tokens;
  Limen's own API and outside tools and APIs through the scopes of its tokens and OAuth
  clients; and the Cedar access policies that let it through, as the PDP decides (it
  decides a request each ``permit`` statement describes, so the identity's status and
  its owner's count as in every decision: ``PolicyDecisionPoint.reach``);
- **used**: each right is matched against the identity's events of the last ``days`` days:
  vault reads and writes in that vault; Limen operations the scope allows; allowed
  decisions (``access.evaluate``) about it for the scope's verb or the policy;
- **findings**: rights never used (each with a concrete change), sensitive resources in
  reach (items tagged ``sensitive``, or the tag asked for, and resources the operator
  tagged so, ``limen.resources``: a vault by ``vault:<name>``, an outside resource type
  every resource of which a scope reaches, a policy whose allowed decisions touched a
  tagged resource), no active owner, long-lived
  tokens, reachable secrets overdue for rotation or flagged by an offboarding, and one
  secret read by several identities.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.access.admin import ACTIONS
from limen.access.pdp import PolicyDecisionPoint
from limen.audit import Actor, Authorizer, Resource
from limen.errors import InvalidInput
from limen.resources import tagged as operator_tagged
from limen.store import Database
from limen.store.models import (
    ApiToken,
    Event,
    Identity,
    IdentityKind,
    IdentityStatus,
    OAuthClient,
    Policy,
    Vault,
    VaultItem,
    as_utc,
    utcnow,
)

__all__ = ["AccessReview", "Review", "ReviewedIdentity", "Right"]

LONG_LIVED: Final = timedelta(days=90)
"""A token with no expiry older than this is flagged."""
_VAULT_SCOPE = re.compile(r"^vault:([^:]+):(read|write)$")
_VAULT_ACTIONS: Final = frozenset(
    {
        "vault.item.read",
        "vault.secret.read",
        "vault.file.read",
        "vault.item.write",
        "vault.item.create",
        "vault.item.update",
        "vault.item.delete",
    }
)
_READ_ACTIONS: Final = frozenset(a for a in _VAULT_ACTIONS if a.endswith("read"))
_EVERYONE: Final = "Cedar policy for every principal"
_SCOPE_ACTIONS: dict[str, frozenset[str]] = {}
for _name, _spec in ACTIONS.items():
    for _scope in _spec.scopes:
        _SCOPE_ACTIONS[_scope] = _SCOPE_ACTIONS.get(_scope, frozenset()) | {_name}


class _Decisions(NamedTuple):
    """The allowed decisions about one identity that share an action, a resource type
    and the policies that decided them."""

    action: str
    resource_type: str
    policies: list[str]
    count: int
    last: datetime


class _Shared:
    """One item read by several identities: what its finding says to each of them."""

    __slots__ = ("_head", "_others", "_title", "_total")

    def __init__(self, title: str, names: list[str]) -> None:
        self._title = title
        self._head = names[:6]
        self._total = len(names)
        self._others = self._also(names[:5])  # to every reader but the first six

    def detail(self, name: str) -> str:
        if name in self._head:
            return self._also([n for n in self._head if n != name][:5])
        return self._others

    def _also(self, others: list[str]) -> str:
        more = self._total - 1 - len(others)
        also = ", ".join(others) + (f" and {more} more" if more > 0 else "")
        return f"{self._title} is also read by {also}"


@dataclass(slots=True)
class Right:
    """One thing an identity can reach, and through what."""

    kind: str
    """``vault``, ``scope`` or ``policy``."""
    target: str
    via: str
    credential: str | None
    used: bool = False
    uses: int = 0
    last_used: datetime | None = None
    sensitive: bool = False

    def document(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "via": self.via,
            "credential": self.credential,
            "used": self.used,
            "uses": self.uses,
            "last_used": self.last_used.isoformat() if self.last_used else None,
            "sensitive": self.sensitive,
        }


@dataclass(slots=True)
class ReviewedIdentity:
    id: str
    name: str
    kind: str
    status: str
    owner: str | None
    owner_status: str | None
    rights: list[Right] = field(default_factory=list)
    findings: list[dict[str, str]] = field(default_factory=list)
    events: int = 0

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "on_behalf_of": self.owner,
            "owner_status": self.owner_status,
            "events": self.events,
            "rights": [r.document() for r in self.rights],
            "unused": [
                f"{r.kind}:{r.target}" for r in self.rights if not r.used and r.via != _EVERYONE
            ],
            "findings": self.findings,
        }


@dataclass(slots=True)
class Review:
    generated_at: datetime
    days: int
    resource_tag: str
    identities: list[ReviewedIdentity]

    def document(self) -> dict[str, Any]:
        counts: dict[str, int] = defaultdict(int)
        for reviewed in self.identities:
            for finding in reviewed.findings:
                counts[finding["type"]] += 1
        return {
            "generated_at": self.generated_at.isoformat(),
            "days": self.days,
            "resource_tag": self.resource_tag,
            "summary": {"identities": len(self.identities), **dict(sorted(counts.items()))},
            "identities": [r.document() for r in self.identities],
        }


class AccessReview:
    """The access review, for an actor the guard lets read the event log; ``pdp`` says
    which policies let each identity through."""

    def __init__(self, db: Database, authorizer: Authorizer, pdp: PolicyDecisionPoint) -> None:
        self._db = db
        self._guard = authorizer
        self._pdp = pdp

    def review(
        self,
        actor: Actor,
        *,
        kind: str | None = None,
        resource_tag: str | None = None,
        days: int = 30,
        now: datetime | None = None,
    ) -> Review:
        self._guard.authorize(actor, "access.review", Resource("access_review"))
        if kind not in (None, "agent", "service"):
            raise InvalidInput("kind must be agent or service")
        if not 1 <= days <= 3650:
            raise InvalidInput("days must be between 1 and 3650")
        tag = (resource_tag or "sensitive").strip()
        moment = now or utcnow()
        with self._db.unit_of_work(readonly=True) as uow:
            reviewed = _review(
                uow.session,
                kind=kind,
                tag=tag,
                since=moment - timedelta(days=days),
                now=moment,
                reach=self._pdp.reach,
            )
        if resource_tag:
            reviewed = [r for r in reviewed if any(x.sensitive for x in r.rights)]
        return Review(moment, days, tag, reviewed)


def _review(
    session: Session,
    *,
    kind: str | None,
    tag: str,
    since: datetime,
    now: datetime,
    reach: Callable[[list[tuple[str, str]]], dict[str, dict[str, bool]]],
) -> list[ReviewedIdentity]:
    kinds = [IdentityKind(kind)] if kind else [IdentityKind.AGENT, IdentityKind.SERVICE]
    machines = session.execute(
        sa.select(Identity.id, Identity.name, Identity.kind, Identity.status, Identity.owner_id)
        .where(Identity.kind.in_(kinds), Identity.status != IdentityStatus.DEPROVISIONED)
        .order_by(Identity.name)
    ).all()
    ids = {m.id for m in machines}
    names = {m.name: m.id for m in machines}
    owners = {
        row.id: row
        for row in session.execute(
            sa.select(Identity.id, Identity.name, Identity.status).where(
                Identity.id.in_({m.owner_id for m in machines if m.owner_id})
            )
        )
    }

    # Credentials: live tokens and clients.
    tokens: dict[str, list[Any]] = defaultdict(list)
    for row in session.execute(
        sa.select(
            ApiToken.id,
            ApiToken.identity_id,
            ApiToken.prefix,
            ApiToken.scopes,
            ApiToken.created_at,
            ApiToken.expires_at,
        ).where(ApiToken.revoked_at.is_(None))
    ):
        if row.identity_id in ids and not (row.expires_at and row.expires_at <= now):
            tokens[row.identity_id].append(row)
    clients: dict[str, list[Any]] = defaultdict(list)
    for row in session.execute(
        sa.select(OAuthClient.client_id, OAuthClient.identity_id, OAuthClient.scopes).where(
            OAuthClient.revoked_at.is_(None)
        )
    ):
        if row.identity_id in ids:
            clients[row.identity_id].append(row)

    # Vaults and items: names, tags, rotation policies.
    vaults = {
        row.id: row
        for row in session.execute(sa.select(Vault.id, Vault.name, Vault.max_secret_age_days))
    }
    items = {
        row.id: row
        for row in session.execute(
            sa.select(
                VaultItem.id,
                VaultItem.vault_id,
                VaultItem.title,
                VaultItem.tags,
                VaultItem.max_secret_age_days,
                VaultItem.secrets_changed_at,
                VaultItem.rotation_needed_since,
            ).where(VaultItem.deleted_at.is_(None))
        )
    }
    tagged_vaults = {i.vault_id for i in items.values() if tag in (i.tags or [])}
    # The operator's own tags on resources (limen resource tag vault:payments sensitive).
    operator = operator_tagged(session, tag)
    tagged_vaults |= {
        vault_id
        for vault_id, vault in vaults.items()
        if ("vault", vault.name) in operator or ("vault", vault_id) in operator
    }
    tagged_types = {kind for kind, _ in operator}
    overdue_by_vault: dict[str, list[str]] = defaultdict(list)
    for item in items.values():
        limit = item.max_secret_age_days or vaults[item.vault_id].max_secret_age_days
        if limit and item.secrets_changed_at < now - timedelta(days=limit):
            overdue_by_vault[item.vault_id].append(item.title)
    flagged_by_vault: dict[str, list[str]] = defaultdict(list)
    for item in items.values():
        if item.rotation_needed_since is not None:
            flagged_by_vault[item.vault_id].append(item.title)

    # What they did (_uses: one pass over the window's events): per identity and action,
    # per identity and vault, and who read which item all come from these rows. Three
    # queries used to read the same index three times; the rows go through the
    # connection, not the ORM's row machinery.
    window = (
        Event.occurred_at >= since,
        Event.outcome == "success",
        Event.actor_id.is_not(None),
    )
    used_actions: dict[str, dict[str, tuple[int, datetime]]] = defaultdict(dict)
    used_vaults: dict[str, dict[str, tuple[int, datetime]]] = defaultdict(dict)
    readers: dict[str, set[str]] = defaultdict(set)
    events_of: dict[str, int] = defaultdict(int)
    for (action, actor_id, resource_id), (count, last) in _uses(session, window).items():
        if actor_id not in ids:
            continue
        events_of[actor_id] += count
        mine = used_actions[actor_id]
        seen = mine.get(action)
        mine[action] = (count, last) if seen is None else (seen[0] + count, max(seen[1], last))
        if action in _VAULT_ACTIONS:
            item = items.get(resource_id)
            if item is None:
                continue  # deleted, or never an item
            in_vault = used_vaults[actor_id]
            seen = in_vault.get(item.vault_id)
            in_vault[item.vault_id] = (
                (count, last) if seen is None else (seen[0] + count, max(seen[1], last))
            )
            if action in _READ_ACTIONS:
                readers[resource_id].add(actor_id)
    decisions: dict[str, list[_Decisions]] = defaultdict(list)
    subject = Event.context[("subject", "id")].as_string()
    verb = Event.context["action"].as_string()
    decided_by = Event.context["policies"].as_string()
    for who, action, resource_type, policy_text, count, last in session.execute(
        sa.select(
            subject,
            verb,
            Event.resource_type,
            decided_by,
            sa.func.count(),
            sa.func.max(Event.occurred_at),
        )
        .where(
            Event.occurred_at >= since,
            Event.action == "access.evaluate",
            Event.outcome == "success",
            Event.quarantined_at.is_(None),
        )
        .group_by(subject, verb, Event.resource_type, decided_by)
    ):
        who = who if who in ids else names.get(who)
        if who:
            events_of[who] += count
            decisions[who].append(
                _Decisions(
                    str(action or ""),
                    resource_type or "",
                    [str(p) for p in (json.loads(policy_text) if policy_text else None) or []],
                    count,
                    last,
                )
            )

    # Which policies let an identity reach a tagged resource, by the allowed decisions
    # about those resources alone (a few rows: only tagged resources are asked for).
    sensitive_policies: dict[str, set[str]] = defaultdict(set)
    if operator:
        for who, resource_type, resource_id, policy_text in session.execute(
            sa.select(subject, Event.resource_type, Event.resource_id, decided_by)
            .where(
                Event.occurred_at >= since,
                Event.action == "access.evaluate",
                Event.outcome == "success",
                Event.resource_id.in_({ident for _, ident in operator}),
                Event.quarantined_at.is_(None),
            )
            .distinct()
        ):
            who = who if who in ids else names.get(who)
            if who and (resource_type, resource_id) in operator:
                for decided in (json.loads(policy_text) if policy_text else None) or []:
                    sensitive_policies[who].add(str(decided).split("#", 1)[0])

    policies = list(
        session.execute(sa.select(Policy.id, Policy.name).where(Policy.realm == "access"))
    )

    # One secret, several readers: each item's readers by name, sorted once.
    id_names = {m.id: m.name for m in machines}
    # In the order the findings list them (by title, then readers), so that each
    # identity's list is already sorted.
    shared = sorted(
        (items[item_id].title, sorted(map(id_names.__getitem__, others)), item_id)
        for item_id, others in readers.items()
        if len(others) > 1
    )
    vault_ids: dict[str, str] = {}
    for vault_id, vault in vaults.items():
        vault_ids.setdefault(vault.name, vault_id)
    read_by: dict[str, list[_Shared]] = defaultdict(list)
    for title, named, item_id in shared:
        one = _Shared(title, named)
        for reader in readers[item_id]:
            read_by[reader].append(one)

    # Which policies let which identity through, as the PDP decides (its status and its
    # owner's count), and whether the statement that does is for every principal.
    reached = reach([(str(m.kind), m.id) for m in machines])

    reviewed: list[ReviewedIdentity] = []
    for machine in machines:
        owner = owners.get(machine.owner_id) if machine.owner_id else None
        entry = ReviewedIdentity(
            id=machine.id,
            name=machine.name,
            kind=str(machine.kind),
            status=str(machine.status),
            owner=owner.name if owner else None,
            owner_status=str(owner.status) if owner else None,
            events=events_of.get(machine.id, 0),
        )
        for credential, label, scopes in [
            *((t, f"token {t.prefix}…", t.scopes) for t in tokens.get(machine.id, [])),
            *((c, f"client {c.client_id}", c.scopes) for c in clients.get(machine.id, [])),
        ]:
            credential_id = getattr(credential, "id", None) or credential.client_id
            for scope in scopes or []:
                entry.rights.extend(
                    _scope_rights(
                        scope,
                        label=label,
                        credential=credential_id,
                        vaults=vaults,
                        tagged=tagged_vaults,
                        tagged_types=tagged_types,
                        used_vaults=used_vaults.get(machine.id, {}),
                        used_actions=used_actions.get(machine.id, {}),
                        decisions=decisions.get(machine.id, []),
                    )
                )
        permitted = reached.get(machine.id, {})
        for policy_id, policy_name in policies if permitted else ():
            everyone = permitted.get(policy_name)
            if everyone is not None:
                # A decision names the statements that decided it: "<policy>#<n>".
                hits = [
                    d
                    for d in decisions.get(machine.id, [])
                    if any(p.split("#", 1)[0] in (policy_name, policy_id) for p in d.policies)
                ]
                entry.rights.append(
                    Right(
                        "policy",
                        policy_name,
                        _EVERYONE if everyone else "Cedar policy permitting it",
                        None,
                        used=bool(hits),
                        uses=sum(d.count for d in hits),
                        last_used=max((d.last for d in hits), default=None),
                        sensitive=bool(
                            {policy_name, policy_id} & sensitive_policies.get(machine.id, set())
                        ),
                    )
                )
        entry.findings = _findings(
            machine,
            entry,
            owner,
            tokens.get(machine.id, []),
            now=now,
            overdue=overdue_by_vault,
            flagged=flagged_by_vault,
            vault_ids=vault_ids,
            shared=read_by.get(machine.id, ()),
        )
        reviewed.append(entry)
    return reviewed


def _scope_rights(
    scope: str,
    *,
    label: str,
    credential: str,
    vaults: dict[str, Any],
    tagged: set[str],
    tagged_types: set[str],
    used_vaults: dict[str, tuple[int, datetime]],
    used_actions: dict[str, tuple[int, datetime]],
    decisions: list[_Decisions],
) -> Iterable[Right]:
    via = f"{label} (scope {scope})"
    match = _VAULT_SCOPE.match(scope)
    if match or scope in ("vault:*", "vault:admin", "*"):
        target = match.group(1) if match else "*"
        reached = list(vaults) if target == "*" else [target] if target in vaults else []
        for vault_id in reached:
            count, last = used_vaults.get(vault_id, (0, None))
            yield Right(
                "vault",
                vaults[vault_id].name,
                via,
                credential,
                used=count > 0,
                uses=count,
                last_used=as_utc(last) if last else None,
                sensitive=vault_id in tagged,
            )
        if match or scope != "*":
            return
    limen_actions = _SCOPE_ACTIONS.get(scope)
    if limen_actions:
        hits = [used_actions[a] for a in limen_actions if a in used_actions]
        count = sum(h[0] for h in hits)
        yield Right(
            "scope",
            scope,
            via,
            credential,
            used=count > 0,
            uses=count,
            last_used=as_utc(max(h[1] for h in hits)) if hits else None,
        )
        return
    family, _, verb = scope.partition(":")
    if scope == "*":
        hits_any = sum(c for c, _ in used_actions.values()) + sum(d.count for d in decisions)
        yield Right("scope", "*", via, credential, used=hits_any > 0, uses=hits_any)
        return
    resource_types = {family, family.rstrip("s")}
    hits = [
        d for d in decisions if (verb and d.action == verb) or d.resource_type in resource_types
    ]
    yield Right(
        "scope",
        scope,
        via,
        credential,
        used=bool(hits),
        uses=sum(d.count for d in hits),
        last_used=max((d.last for d in hits), default=None),
        # A scope reaches every resource of its type, the tagged ones among them.
        sensitive=bool(resource_types & tagged_types),
    )


def _sensitive_detail(right: Right) -> str:
    if right.kind == "vault":
        what = f"vault {right.target}, which holds tagged items or is tagged,"
    elif right.kind == "policy":
        what = f"resources tagged by the operator, allowed by policy {right.target},"
    else:
        what = f"resources tagged by the operator with scope {right.target},"
    return f"reaches {what} through {right.via}"


def _findings(
    machine: Any,
    entry: ReviewedIdentity,
    owner: Any,
    tokens: list[Any],
    *,
    now: datetime,
    overdue: dict[str, list[str]],
    flagged: dict[str, list[str]],
    vault_ids: dict[str, str],
    shared: Iterable[_Shared],
) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    for right in entry.rights:
        if right.used or right.via == _EVERYONE:
            # A policy for every principal is not this identity's grant to narrow.
            continue
        scope = right.via.split("(scope ", 1)[-1].rstrip(")")
        if right.kind == "policy":
            change = f"narrow Cedar policy {right.target!r} so that it leaves out {machine.name}"
        elif right.via.startswith("client "):
            change = (
                f"register a client for {machine.name} without the scope {scope}, then "
                f"limen client revoke {right.credential}"
            )
        else:
            change = (
                f"limen token create --identity {machine.name} --scopes <all but {scope}>, "
                f"then limen token revoke {right.credential}"
            )
        found.append(
            {
                "type": "unused-right",
                "detail": f"{right.kind} {right.target} through {right.via} was not used",
                "change": change,
            }
        )
    for right in entry.rights:
        if right.sensitive:
            found.append(
                {
                    "type": "sensitive-resource",
                    "detail": _sensitive_detail(right),
                    "change": "" if right.used else "remove this grant: it was never used",
                }
            )
    if machine.kind is IdentityKind.AGENT and (owner is None or owner.status != "active"):
        found.append(
            {
                "type": "no-active-owner",
                "detail": f"owner {owner.name} is {owner.status}" if owner else "no owner",
                "change": f"limen identity update {machine.name} --owner <an active human>, "
                f"or limen identity suspend {machine.name}",
            }
        )
    for token in tokens:
        if token.expires_at is None and token.created_at < now - LONG_LIVED:
            age = (now - token.created_at).days
            found.append(
                {
                    "type": "long-lived-credential",
                    "detail": f"token {token.prefix}… has no expiry and is {age} days old",
                    "change": f"limen token create --identity {machine.name} --expires-in 30d; "
                    f"limen token revoke {token.id}",
                }
            )
    for right in entry.rights:
        if right.kind != "vault":
            continue
        vault_id = vault_ids.get(right.target)
        late = overdue.get(vault_id or "", [])
        if late:
            found.append(
                {
                    "type": "secret-overdue",
                    "detail": f"vault {right.target} holds {len(late)} item(s) older than "
                    f"their rotation policy: {', '.join(sorted(late)[:5])}",
                    "change": f"rotate them (limen vault report {right.target})",
                }
            )
        marked = flagged.get(vault_id or "", [])
        if marked:
            found.append(
                {
                    "type": "rotation-needed",
                    "detail": f"vault {right.target} holds {len(marked)} item(s) that someone "
                    f"who left could read: {', '.join(sorted(marked)[:5])}",
                    "change": f"rotate them (limen item get {right.target}/<item> says why); "
                    "a new secret value clears the flag",
                }
            )
    for one in shared:
        found.append(
            {
                "type": "shared-secret",
                "detail": one.detail(machine.name),
                "change": "give each identity its own credential for this system",
            }
        )
    return found


_Use = tuple[str, str, str | None]


def _uses(session: Session, window: tuple[Any, ...]) -> dict[_Use, tuple[int, datetime]]:
    """What identities did in the window, but decide: (action, actor id, resource id) →
    (how many times, the last time).

    One pass grouped by the database in the order of ix_events_use, which holds every
    column read. A row the chainer set aside (inserted behind Limen's back, without a
    valid seal) is no use: such rows are few, so the groups they fall in are found
    through their own index (ix_events_set_aside) and counted again without them, rather
    than costing the whole pass its covering index.
    """
    grouped = (
        sa.select(
            Event.action,
            Event.actor_id,
            Event.resource_id,
            sa.func.count(),
            # Compared as read, made UTC-aware only where a right reports it (as_utc):
            # most of these rows are never shown.
            sa.type_coerce(sa.func.max(Event.occurred_at), sa.DateTime()),
        )
        .where(*window, Event.action != "access.evaluate")
        .group_by(Event.action, Event.actor_id, Event.resource_id)
    )
    connection = session.connection()
    uses = {(a, i, r): (count, last) for a, i, r, count, last in connection.execute(grouped)}
    planted = [
        (a, i, r)
        for a, i, r in connection.execute(
            sa.select(Event.action, Event.actor_id, Event.resource_id)
            .where(*window, Event.action != "access.evaluate", Event.quarantined_at.is_not(None))
            .distinct()
        )
    ]
    for start in range(0, len(planted), 100):
        chunk = planted[start : start + 100]
        for key in chunk:
            uses.pop(key, None)
        either = sa.or_(
            *(
                sa.and_(
                    Event.action == action,
                    Event.actor_id == actor_id,
                    Event.resource_id.is_(None)
                    if resource_id is None
                    else Event.resource_id == resource_id,
                )
                for action, actor_id, resource_id in chunk
            )
        )
        for a, i, r, count, last in connection.execute(
            grouped.where(either, Event.quarantined_at.is_(None))
        ):
            uses[(a, i, r)] = (count, last)
    return uses
