"""Opaque bearer tokens: issue once, store only a hash, authenticate every request.

Tokens carry 256 random bits, so a single SHA-256 is the right hash: there is nothing to
brute-force, and looking a token up by its hash leaks no timing about other tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, record
from limen.identity.errors import InvalidToken
from limen.store import AsyncReader, Lookup, Reader, UnitOfWork
from limen.store.models import ApiToken, Identity, IdentityStatus, utcnow

__all__ = [
    "TOKEN_PREFIX",
    "StatusChanges",
    "VerifiedTokens",
    "authenticate",
    "authenticate_async",
    "hash_token",
    "issue_api_token",
    "revoke_api_token",
    "tokens_of",
    "touch_if_stale",
]

TOKEN_PREFIX = "limen_"  # noqa: S105 - a prefix, not a secret
# Writing last_used_at on every request would turn reads into writes; minutes are enough.
_TOUCH_INTERVAL = timedelta(minutes=5)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_api_token(
    uow: UnitOfWork,
    actor: Actor,
    identity: Identity,
    *,
    purpose: str,
    scopes: Iterable[str],
    name: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for ``identity``; the raw value is returned here and never again."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        identity_id=identity.id,
        purpose=purpose,
        name=name,
        token_hash=hash_token(raw),
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    uow.session.add(token)
    uow.flush()
    record(
        uow.session,
        actor,
        "token.issue",
        resource_type="api_token",
        resource_id=token.id,
        resource_name=name or purpose,
        context={"purpose": purpose, "identity_id": identity.id, "scopes": token.scopes},
    )
    return token, raw


def revoke_api_token(uow: UnitOfWork, actor: Actor, token_id: str) -> ApiToken | None:
    """Revoke a token by id; idempotent. Returns ``None`` if there is no such token."""
    token = uow.session.get(ApiToken, token_id)
    if token is None:
        return None
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(
            uow.session,
            actor,
            "token.revoke",
            resource_type="api_token",
            resource_id=token.id,
            resource_name=token.name or token.purpose,
        )
        uow.publish("token.revoked", {"id": token.id})
    return token


def touch_if_stale(uow: UnitOfWork, token_id: str, *, now: datetime | None = None) -> None:
    """Note that a token was used, at most once per few minutes per token.

    Kept apart from :func:`authenticate` so that authenticating stays a pure read.
    """
    now = now or utcnow()
    uow.session.execute(
        sa.update(ApiToken)
        .where(
            ApiToken.id == token_id,
            sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - _TOUCH_INTERVAL),
        )
        .values(last_used_at=now)
    )


def tokens_of(session: Session, identity_id: str) -> Sequence[ApiToken]:
    return list(
        session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.identity_id == identity_id)
            .order_by(ApiToken.created_at)
        )
    )


# Built once, and columns rather than entities: this runs on every authenticated request,
# where composing the statement and loading two ORM objects cost more than the query.
_AUTHENTICATE = Lookup(
    sa.select(
        ApiToken.id,
        ApiToken.scopes,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        ApiToken.last_used_at,
        Identity.id.label("identity_id"),
        Identity.kind,
        Identity.name,
        Identity.status,
    )
    .join(Identity, Identity.id == ApiToken.identity_id)
    .where(ApiToken.token_hash == sa.bindparam("token_hash"))
)


class StatusChanges(Protocol):
    """What tells a cache that a token may have stopped being good: the status view
    (:class:`limen.access.StatusView`), whose ``version`` moves on every revocation and
    every identity status change, wherever it was made."""

    version: int

    def sync(self) -> None: ...


class VerifiedTokens:
    """Token rows read recently, used again while no revocation or status change came.

    Without it every request pays a token lookup, on PostgreSQL a network round trip and
    about a fifth of a vault read's time. A valid token's row stops being good in only
    three ways: the token is revoked, its identity's status changes, or it expires. The
    first two always publish a status message that moves the status view's ``version``: on
    this node before the change's own response leaves, on other nodes through
    LISTEN/NOTIFY (with the view's periodic re-read as the backstop), from another process
    on SQLite at the view's next sync, which every lookup here starts with. Expiry is
    checked on every use. So a row is used again only while the version is the one read
    before the row was; after any change every token is read afresh.
    """

    def __init__(self, changes: StatusChanges, *, limit: int = 4096) -> None:
        self._changes = changes
        self._limit = limit
        self._rows: dict[str, _Kept] = {}

    def version(self) -> int:
        """Catch up with changes; the version a row read from now on is kept under."""
        self._changes.sync()
        return self._changes.version

    def actor(
        self,
        raw: str,
        *,
        channel: str = "api",
        now: datetime | None = None,
        on_stale: Callable[[str], None] | None = None,
    ) -> Actor | None:
        """:func:`authenticate` from a kept row, or ``None`` if the token must be read."""
        token_hash = _token_hash(raw)
        kept = self._rows.get(token_hash)
        if kept is None or kept.version != self.version():
            return None
        return _actor(kept, token_hash, self, channel=channel, now=now, on_stale=on_stale)

    def keep(self, token_hash: str, kept: _Kept) -> None:
        if len(self._rows) >= self._limit and token_hash not in self._rows:
            self._rows = {}
        self._rows[token_hash] = kept


@dataclass(frozen=True, slots=True)
class _Kept:
    version: int
    """The status view's version when the row was read."""
    row: Any
    used_at: datetime | None
    """When the token was last noted as used (the row's, or since, this node's touch)."""


def authenticate(
    source: Reader | Session,
    raw: str,
    *,
    channel: str = "api",
    now: datetime | None = None,
    on_stale: Callable[[str], None] | None = None,
    verified: VerifiedTokens | None = None,
) -> Actor:
    """Turn a bearer token into the acting identity, or raise :class:`InvalidToken`.

    The identity's status is read with the token, so a suspension is honoured by the very
    next request. Given ``verified``, a valid token's row is kept there for
    :meth:`VerifiedTokens.actor`. ``on_stale(token_id)`` is called when the token's
    last-used time is due an update (see :func:`touch_if_stale`).
    """
    token_hash = _token_hash(raw)
    version = verified.version() if verified is not None else 0
    row = _AUTHENTICATE.first(source, token_hash=token_hash)
    kept = _Kept(version, row, row.last_used_at if row is not None else None)
    return _actor(kept, token_hash, verified, channel=channel, now=now, on_stale=on_stale)


async def authenticate_async(
    source: AsyncReader,
    raw: str,
    *,
    channel: str = "api",
    now: datetime | None = None,
    on_stale: Callable[[str], None] | None = None,
    verified: VerifiedTokens | None = None,
) -> Actor:
    """:func:`authenticate` on an event loop (``Database.reading_async``)."""
    token_hash = _token_hash(raw)
    version = verified.version() if verified is not None else 0
    row = await _AUTHENTICATE.first_async(source, token_hash=token_hash)
    kept = _Kept(version, row, row.last_used_at if row is not None else None)
    return _actor(kept, token_hash, verified, channel=channel, now=now, on_stale=on_stale)


def _token_hash(raw: str) -> str:
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        raise InvalidToken("the bearer token is not valid")
    return hash_token(raw)


def _actor(
    kept: _Kept,
    token_hash: str,
    verified: VerifiedTokens | None,
    *,
    channel: str,
    now: datetime | None,
    on_stale: Callable[[str], None] | None,
) -> Actor:
    now = now or utcnow()
    row = kept.row
    if row is None:
        raise InvalidToken("the bearer token is not valid")
    if (
        row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
        or row.status is not IdentityStatus.ACTIVE
    ):
        raise InvalidToken("the bearer token is not valid")
    # Report, do not write: callers authenticate inside a read-only transaction, where a
    # write is rolled back and, on SQLite, fails with "database is locked" whenever another
    # request is committing.
    stale = kept.used_at is None or now - kept.used_at > _TOUCH_INTERVAL
    if stale and on_stale is not None:
        on_stale(row.id)
    if verified is not None:
        # Noted as used now, so a kept row reports stale once per interval, like the table.
        verified.keep(token_hash, _Kept(kept.version, row, now) if stale else kept)
    return Actor(
        kind=str(row.kind),
        name=row.name,
        identity_id=row.identity_id,
        token_id=row.id,
        scopes=frozenset(row.scopes),
        channel=channel,
    )
