"""Personal and admin tokens as first-class objects: issue, list, revoke.

``limen token create --identity bob --expires-in 8h`` issues an opaque ``limen_…`` token
for an identity; what it may do is bounded by its scopes and, whatever the scopes say, by
the identity's roles (see :mod:`limen.access.admin`). Every token Limen stores, whatever
made it (admin, personal, service account, events feed), is listed and revoked here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from limen.audit import Actor, Authorizer, Resource
from limen.errors import InvalidInput, NotFound
from limen.identity import credentials, service
from limen.store import Database
from limen.store.models import ApiToken, Identity, IdentityStatus, utcnow

__all__ = ["MAX_TOKEN_LIFETIME", "ApiTokens", "IssuedApiToken", "TokenInfo"]

MAX_TOKEN_LIFETIME = timedelta(days=366)
_SCOPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789:*._-")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored token's metadata: never its value."""

    id: str
    identity_id: str
    identity_name: str
    purpose: str
    name: str | None
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class IssuedApiToken:
    info: TokenInfo
    token: str = field(repr=False)
    """The raw value: shown once, never stored."""


class ApiTokens:
    """Issue, list and revoke opaque tokens on behalf of an actor."""

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def create(
        self,
        actor: Actor,
        identity_ref: str,
        *,
        scopes: Iterable[str] = ("*",),
        expires_in: timedelta | None = None,
        name: str | None = None,
        now: datetime | None = None,
    ) -> IssuedApiToken:
        """Issue a personal token for ``identity_ref``; its value is returned only here."""
        scope_list = sorted({s.strip() for s in scopes if s and s.strip()})
        if not scope_list:
            raise InvalidInput("give the token at least one scope (or '*')")
        for scope in scope_list:
            if len(scope) > 100 or not set(scope) <= _SCOPE_CHARS:
                raise InvalidInput(f"{scope[:40]!r} is not a scope")
        if expires_in is not None and not timedelta(0) < expires_in <= MAX_TOKEN_LIFETIME:
            raise InvalidInput("a token lives between a second and 366 days")
        if name is not None and len(name) > 200:
            raise InvalidInput("a token's name is limited to 200 characters")
        with self._db.unit_of_work(readonly=True) as uow:
            holder = service.get(uow.session, identity_ref)
        self._guard.authorize(actor, "token.create", Resource("identity", holder.id, holder.name))
        if holder.status is not IdentityStatus.ACTIVE:
            raise InvalidInput(
                f"{holder.name!r} is {holder.status}; tokens need an active identity"
            )
        expires_at = (now or utcnow()) + expires_in if expires_in else None
        purpose = "admin" if holder.is_admin and "*" in scope_list else "personal"
        with self._db.unit_of_work() as uow:
            token, raw = credentials.issue_api_token(
                uow,
                actor,
                uow.session.get(Identity, holder.id),  # type: ignore[arg-type]
                purpose=purpose,
                scopes=scope_list,
                name=name,
                expires_at=expires_at,
            )
            return IssuedApiToken(_info(token, holder.name), raw)

    def list(
        self, actor: Actor, *, identity_ref: str | None = None, include_revoked: bool = False
    ) -> Sequence[TokenInfo]:
        self._guard.authorize(actor, "token.read", Resource("api_token"))
        with self._db.unit_of_work(readonly=True) as uow:
            query = (
                sa.select(ApiToken, Identity.name)
                .join(Identity, Identity.id == ApiToken.identity_id)
                .order_by(ApiToken.created_at, ApiToken.id)
            )
            if identity_ref:
                query = query.where(
                    ApiToken.identity_id == service.get(uow.session, identity_ref).id
                )
            if not include_revoked:
                query = query.where(ApiToken.revoked_at.is_(None))
            return [_info(token, holder) for token, holder in uow.session.execute(query)]

    def revoke(self, actor: Actor, token_id: str, *, reason: str | None = None) -> TokenInfo:
        """Revoke a token by id (idempotent); it stops working on every node at once."""
        with self._db.unit_of_work(readonly=True) as uow:
            found = uow.session.get(ApiToken, token_id.strip()) if token_id else None
            holder = uow.session.get(Identity, found.identity_id) if found else None
        if found is None or holder is None:
            raise NotFound(f"no token {token_id[:40]!r}; `limen token list` shows their ids")
        self._guard.authorize(
            actor, "token.revoke", Resource("api_token", found.id, found.name or found.purpose)
        )
        with self._db.unit_of_work() as uow:
            token = credentials.revoke_api_token(uow, actor, found.id, reason=reason)
            assert token is not None
            return _info(token, holder.name)


def _info(token: ApiToken, holder: str) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        identity_id=token.identity_id,
        identity_name=holder,
        purpose=token.purpose,
        name=token.name,
        prefix=token.prefix,
        scopes=tuple(token.scopes or ()),
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )
