"""Service accounts: identities of kind ``service`` holding a vault-scoped API token.

``create("ci-deployer", grants=["payments:read"])`` makes (or reuses) the identity and
issues a ``service-account`` token whose scopes follow :mod:`limen.vault.scopes`. The
raw token is returned once; only its hash is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from limen import identity
from limen.audit import Actor, Authorizer, Resource
from limen.errors import InvalidInput
from limen.identity import IdentityNotFound
from limen.ids import is_id
from limen.store import Database
from limen.store.models import ApiToken, Identity, IdentityKind, utcnow
from limen.store.models.vault import Vault
from limen.vault.errors import VaultNotFound
from limen.vault.scopes import require_admin, vault_scope

__all__ = [
    "PURPOSE",
    "IssuedToken",
    "ServiceAccountToken",
    "ServiceAccounts",
    "create",
    "list_tokens",
    "revoke",
]

PURPOSE = "service-account"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    identity_id: str
    name: str
    token_id: str
    token: str = field(repr=False)
    """The raw token: shown once."""
    scopes: tuple[str, ...]
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ServiceAccountToken:
    identity_id: str
    name: str
    token_id: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def create(
    db: Database,
    actor: Actor,
    name: str,
    *,
    grants: Iterable[str],
    expires_in: timedelta | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """Issue a token for service account ``name`` (created if new).

    ``grants`` are ``<vault name or id>:<read|write>``, or ``*:read`` / ``*:write``.
    """
    require_admin(actor)
    grant_list = list(grants)
    if not grant_list:
        raise InvalidInput("give the service account at least one --vault <vault>:<read|write>")
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidInput("the expiry must be in the future")
    expires_at = (now or utcnow()) + expires_in if expires_in else None
    with db.unit_of_work() as uow:
        scopes = sorted({_scope(uow.session, grant) for grant in grant_list})
        try:
            account = identity.get(uow.session, name)
        except IdentityNotFound:
            account = identity.create(uow, actor, kind="service", name=name)
        if account.kind is not IdentityKind.SERVICE:
            raise InvalidInput(f"{name!r} is a {account.kind}, not a service account")
        token, raw = identity.issue_api_token(
            uow,
            actor,
            account,
            purpose=PURPOSE,
            scopes=scopes,
            name=f"{account.name} service account",
            expires_at=expires_at,
        )
        return IssuedToken(account.id, account.name, token.id, raw, tuple(scopes), expires_at)


def list_tokens(db: Database, actor: Actor, name: str | None = None) -> list[ServiceAccountToken]:
    require_admin(actor)
    with db.unit_of_work(readonly=True) as uow:
        query = (
            sa.select(ApiToken, Identity)
            .join(Identity, Identity.id == ApiToken.identity_id)
            .where(ApiToken.purpose == PURPOSE)
            .order_by(Identity.name, ApiToken.created_at)
        )
        if name:
            query = query.where(Identity.id == identity.get(uow.session, name).id)
        return [
            ServiceAccountToken(
                identity_id=account.id,
                name=account.name,
                token_id=token.id,
                prefix=token.prefix,
                scopes=tuple(token.scopes),
                created_at=token.created_at,
                expires_at=token.expires_at,
                revoked_at=token.revoked_at,
                last_used_at=token.last_used_at,
            )
            for token, account in uow.session.execute(query).all()
        ]


def revoke(db: Database, actor: Actor, ref: str) -> Sequence[str]:
    """Revoke one token (by token id) or every token of a service account (by name or id)."""
    require_admin(actor)
    with db.unit_of_work() as uow:
        session = uow.session
        token = session.get(ApiToken, ref) if is_id(ref) else None
        if token is not None and token.purpose == PURPOSE:
            identity.revoke_api_token(uow, actor, token.id)
            return [token.id]
        account = identity.get(session, ref)
        ids = list(
            session.scalars(
                sa.select(ApiToken.id).where(
                    ApiToken.identity_id == account.id,
                    ApiToken.purpose == PURPOSE,
                    ApiToken.revoked_at.is_(None),
                )
            )
        )
        for token_id in ids:
            identity.revoke_api_token(uow, actor, token_id)
        return ids


def _scope(session: sa.orm.Session, grant: str) -> str:
    target, sep, permission = grant.strip().rpartition(":")
    if not sep or permission not in ("read", "write") or not target:
        raise InvalidInput(f"grant {grant!r} is not <vault>:read or <vault>:write")
    if target == "*":
        return vault_scope("*", permission)  # type: ignore[arg-type]
    vault = session.get(Vault, target) if is_id(target) else None
    if vault is None:
        vault = session.scalar(sa.select(Vault).where(Vault.name == target))
    if vault is None:
        raise VaultNotFound(f"no vault {target!r}")
    return vault_scope(vault.id, permission)  # type: ignore[arg-type]


class ServiceAccounts:
    """The functions above for an actor the guard has let through (the API's door).

    Creating one asks for ``token.create``, listing for ``token.read``, revoking for
    ``token.revoke``; each still needs the ``vault:admin`` scope, as from the CLI.
    """

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def create(
        self,
        actor: Actor,
        name: str,
        *,
        grants: Iterable[str],
        expires_in: timedelta | None = None,
    ) -> IssuedToken:
        self._guard.authorize(actor, "token.create", Resource("identity", name=name))
        return create(self._db, actor, name, grants=grants, expires_in=expires_in)

    def list(self, actor: Actor, name: str | None = None) -> list[ServiceAccountToken]:
        self._guard.authorize(actor, "token.read", Resource("api_token", name=name))
        return list_tokens(self._db, actor, name)

    def get(self, actor: Actor, ref: str) -> tuple[Identity, list[ServiceAccountToken]]:
        """One service account and its tokens (never their values)."""
        with self._db.unit_of_work(readonly=True) as uow:
            account = identity.get(uow.session, ref)
        self._guard.authorize(actor, "token.read", Resource("identity", account.id, account.name))
        if account.kind is not IdentityKind.SERVICE:
            raise IdentityNotFound(f"no service account {ref!r}")
        return account, list_tokens(self._db, actor, account.id)

    def revoke(self, actor: Actor, ref: str) -> Sequence[str]:
        self._guard.authorize(actor, "token.revoke", Resource("api_token", name=ref))
        return revoke(self._db, actor, ref)
