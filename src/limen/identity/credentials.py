"""Opaque bearer tokens (admin, personal, service account, events feed, partner):
issue once, store only a hash, check every request against the live status view.

Tokens carry 256 random bits, so a single SHA-256 is the right hash: there is nothing to
brute-force, and looking a token up by its hash leaks no timing about other tokens.

Checking a token is split so that the same code serves a thread and an event loop:
:meth:`OpaqueTokens.begin` answers from memory when it has seen the token before, or
says which row to read; the caller reads it (:data:`TOKEN_ROW`, through whatever
connection suits it) and hands it to :meth:`OpaqueTokens.finish`. :func:`authenticate`
does both in one call for callers that may block.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, record
from limen.errors import Unavailable
from limen.identity.errors import InvalidToken, TokenExpired
from limen.identity.status import StatusView
from limen.store import Lookup, Reader, UnitOfWork
from limen.store.models import ApiToken, Identity, utcnow

__all__ = [
    "TOKEN_PREFIX",
    "TOKEN_ROW",
    "OpaqueTokens",
    "Pending",
    "authenticate",
    "find_token",
    "hash_token",
    "issue_api_token",
    "revoke_api_token",
    "tokens_of",
    "touch_if_stale",
]

TOKEN_PREFIX = "limen_"  # noqa: S105 - a prefix, not a secret
# Writing last_used_at on every request would turn reads into writes; minutes are enough.
_TOUCH_INTERVAL = timedelta(minutes=5)
_KEEP_LIMIT = 10_000


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
        created_at=utcnow(),
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


def revoke_api_token(
    uow: UnitOfWork, actor: Actor, token_id: str, *, reason: str | None = None
) -> ApiToken | None:
    """Revoke a token by id; idempotent. Returns ``None`` if there is no such token.

    Every process hears of it (the status view's hook publishes the change).
    """
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
            reason=reason,
            context={"identity_id": token.identity_id, "purpose": token.purpose},
        )
    return token


def find_token(session: Session, raw: str) -> ApiToken | None:
    """The stored token a raw ``limen_…`` value stands for, whatever its state."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    return session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))


def touch_if_stale(uow: UnitOfWork, token_id: str, *, now: datetime | None = None) -> None:
    """Note that a token was used, at most once per few minutes per token.

    Kept apart from authentication so that authenticating stays a pure read. A Core
    statement: only ``last_used_at`` changes, which no status depends on.
    """
    now = now or utcnow()
    uow.session.connection().execute(
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


TOKEN_ROW: Final = Lookup(
    sa.select(
        ApiToken.id,
        ApiToken.identity_id,
        ApiToken.scopes,
        ApiToken.created_at,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        ApiToken.last_used_at,
    ).where(ApiToken.token_hash == sa.bindparam("token_hash"))
)
"""The row :meth:`OpaqueTokens.finish` needs; bind ``token_hash`` (``Pending.token_hash``)."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A token seen for the first time: read its row (:data:`TOKEN_ROW`), then finish."""

    token_hash: str


@dataclass(frozen=True, slots=True)
class _Kept:
    row: Any
    used_at: datetime | None
    """When the token was last noted as used (the row's, or since, this process's)."""


class OpaqueTokens:
    """Checks opaque tokens against the status view, keeping the rows it has read.

    A token's row never changes in a way that matters here except by revocation, which
    the status view hears of on every process; expiry is checked on each use, the
    identity's standing (status, owner, cut-off, kill switch) is the view's. So a row
    read once is good for as long as the process lives.
    """

    def __init__(self, status: StatusView) -> None:
        self.status = status
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def begin(
        self,
        raw: str,
        *,
        channel: str = "api",
        now: datetime | None = None,
        on_stale: Callable[[str], None] | None = None,
    ) -> Actor | Pending:
        """The actor, if this token's row was read before; else what to read."""
        token_hash = _token_hash(raw)
        kept = self._kept.get(token_hash)
        if kept is None:
            return Pending(token_hash)
        return self._accept(token_hash, kept, channel=channel, now=now, on_stale=on_stale)

    def finish(
        self,
        pending: Pending,
        row: Any | None,
        *,
        channel: str = "api",
        now: datetime | None = None,
        on_stale: Callable[[str], None] | None = None,
    ) -> Actor:
        """The actor for the row read for ``pending`` (``None``: no such token)."""
        if row is None:
            raise InvalidToken("the bearer token is not valid")
        kept = _Kept(row, row.last_used_at)
        with self._lock:
            if len(self._kept) >= _KEEP_LIMIT:
                self._kept = {}
            self._kept[pending.token_hash] = kept
        return self._accept(pending.token_hash, kept, channel=channel, now=now, on_stale=on_stale)

    def _forget(self, token_hash: str) -> None:
        """Forget a token refused for good (revoked, expired, issued before a cut-off):
        a SOAR's suspensions revoke a token each, and each was kept, never to be accepted
        again, until 10,000 of them (the soak's growing ``_Kept`` rows). Read again, its
        row refuses it the same way."""
        with self._lock:
            self._kept.pop(token_hash, None)

    def _accept(
        self,
        token_hash: str,
        kept: _Kept,
        *,
        channel: str,
        now: datetime | None,
        on_stale: Callable[[str], None] | None,
    ) -> Actor:
        now = now or utcnow()
        row = kept.row
        if row.revoked_at is not None:
            self._forget(token_hash)
            raise InvalidToken("the bearer token is not valid")
        if row.expires_at is not None and row.expires_at <= now:
            self._forget(token_hash)
            raise TokenExpired("the bearer token has expired")
        status = self.status
        why = status.refusal(
            (row.identity_id,), issued_at=row.created_at.timestamp(), token_id=row.id
        )
        if why == "stale":
            raise Unavailable("identity status cannot be confirmed right now; retry shortly")
        if why is not None:
            if why == "revoked" or why.endswith("issued before a suspension"):
                self._forget(token_hash)
            error = InvalidToken("the bearer token is not valid")
            error.reason = why  # type: ignore[attr-defined]
            raise error
        info = status.identity(row.identity_id)
        assert info is not None  # refusal() checked it exists
        # Report, do not write: callers authenticate inside read-only work.
        if kept.used_at is None or now - kept.used_at > _TOUCH_INTERVAL:
            if on_stale is not None:
                on_stale(row.id)
            self._kept[token_hash] = _Kept(row, now)
        return Actor(
            kind=info.kind,
            name=info.name,
            identity_id=info.id,
            token_id=row.id,
            scopes=frozenset(row.scopes or ()),
            channel=channel,
        )


def authenticate(
    tokens: OpaqueTokens,
    source: Reader | Session,
    raw: str,
    *,
    channel: str = "api",
    now: datetime | None = None,
    on_stale: Callable[[str], None] | None = None,
) -> Actor:
    """Turn a bearer token into the acting identity, or raise :class:`InvalidToken`
    (:class:`TokenExpired`), or :class:`~limen.errors.Unavailable` while status cannot be
    confirmed. Reads the token's row through ``source`` the first time only."""
    step = tokens.begin(raw, channel=channel, now=now, on_stale=on_stale)
    if isinstance(step, Actor):
        return step
    row = TOKEN_ROW.first(source, token_hash=step.token_hash)
    return tokens.finish(step, row, channel=channel, now=now, on_stale=on_stale)


def _token_hash(raw: str) -> str:
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        raise InvalidToken("the bearer token is not valid")
    return hash_token(raw)
