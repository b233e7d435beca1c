"""Issue, verify and revoke JWT access tokens, with status checked on every verification.

A token is valid only while its signature verifies, it has not expired, its ``jti`` and
its client are not revoked, and its subject and every actor in its ``act`` chain are
active. Status comes from :class:`limen.access.StatusView`, which is exact on every node,
so a revocation or suspension is honoured by the very next verification.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session

from limen.access.status import TOKEN_REVOKED_TOPIC, StatusView
from limen.audit import Actor, record
from limen.audit.durable import Write
from limen.ids import new_id
from limen.store import Database, UnitOfWork
from limen.store.models import OAuthClient, RevokedToken, utcnow
from limen.tokens.clients import AuthenticatedClient
from limen.tokens.errors import InvalidAccessToken, InvalidTarget
from limen.tokens.keys import SigningKeys
from limen.tokens.rfc9068.claims import TYP, AccessTokenClaims

__all__ = ["ANY_AUDIENCE", "IssuedToken", "TokenService", "audiences_for"]

ANY_AUDIENCE: Final = "*"
"""Pass as ``audience`` to accept a token whatever it was minted for (token exchange)."""

_CLOCK_SKEW = 60
_VERIFIED_LIMIT = 20_000
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s#]+$")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token as the token endpoint returns it (RFC 6749 §5.1)."""

    access_token: str
    expires_in: int
    claims: AccessTokenClaims
    token_type: str = "Bearer"  # noqa: S105 - RFC 6750 token type
    issued_token_type: str | None = None

    def to_response(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": " ".join(self.claims.scope),
        }
        if self.issued_token_type:
            body["issued_token_type"] = self.issued_token_type
        return body


def audiences_for(resources: list[str], *, issuer: str) -> tuple[str, ...]:
    """RFC 8707 §2: each ``resource`` is an absolute URI without a fragment.

    Without one the token is for Limen's own API, whose audience is the issuer.
    """
    for resource in resources:
        if len(resource) > 2000 or not _URI.match(resource):
            raise InvalidTarget("resource must be an absolute URI without a fragment")
    return tuple(dict.fromkeys(resources)) or (issuer,)


class TokenService:
    """Issues and checks access tokens for one installation."""

    def __init__(
        self, db: Database, *, keys: SigningKeys, status: StatusView, ttl: timedelta
    ) -> None:
        self.db = db
        self.keys = keys
        self.status = status
        self.ttl = ttl
        self._verified: dict[bytes, tuple[int, AccessTokenClaims]] = {}
        keys.retain_for(ttl)

    def issue(
        self,
        uow: UnitOfWork,
        actor: Actor,
        *,
        subject: str,
        client: AuthenticatedClient | OAuthClient,
        scope: tuple[str, ...],
        audience: tuple[str, ...],
        issuer: str,
        act: dict[str, Any] | None = None,
        action: str = "token.issue",
        context: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> IssuedToken:
        """Sign a token for ``subject`` and record the issuance in ``uow``."""
        issued, write = self.mint(
            actor,
            subject=subject,
            client=client,
            scope=scope,
            audience=audience,
            issuer=issuer,
            act=act,
            action=action,
            context=context,
            now=now,
        )
        write(uow.session)
        return issued

    def mint(
        self,
        actor: Actor,
        *,
        subject: str,
        client: AuthenticatedClient | OAuthClient,
        scope: tuple[str, ...],
        audience: tuple[str, ...],
        issuer: str,
        act: dict[str, Any] | None = None,
        action: str = "token.issue",
        context: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> tuple[IssuedToken, Write]:
        """Sign a token for ``subject``; return it and the write that records its issuance.

        The token must not be handed out before that write is committed (the token
        endpoint gives it to :func:`limen.audit.durable.event_writer`, which commits many
        grants' events together).
        """
        now = now or utcnow()
        iat = int(now.timestamp())
        lifetime = int(self.ttl.total_seconds())
        claims = AccessTokenClaims(
            iss=issuer,
            sub=subject,
            aud=audience,
            client_id=client.client_id,
            jti=new_id(),
            iat=iat,
            exp=iat + lifetime,
            scope=tuple(sorted(scope)),
            act=act,
        )
        raw = self.keys.sign_jwt(claims.to_jwt(), typ=TYP)
        event_context = {
            "client_id": client.client_id,
            "sub": subject,
            "aud": list(audience),
            "scope": list(claims.scope),
            "exp": claims.exp,
            **(context or {}),
        }

        def write(session: Session) -> None:
            record(
                session,
                actor,
                action,
                resource_type="access_token",
                resource_id=claims.jti,
                context=event_context,
                now=now,
            )

        return IssuedToken(raw, lifetime, claims), write

    def verify(
        self,
        raw: str,
        *,
        audience: str | None = None,
        now: datetime | None = None,
        check_expiry: bool = True,
    ) -> AccessTokenClaims:
        """Return the claims of a currently valid token or raise :class:`InvalidAccessToken`.

        ``audience=None`` demands a token for Limen's own API (``aud`` holds the issuer);
        :data:`ANY_AUDIENCE` accepts any. The raised error says only "not valid"; its
        ``reason`` attribute says why, for the audit trail.
        """
        claims = self._authentic(raw)
        moment = (now or utcnow()).timestamp()
        if check_expiry and claims.exp <= moment:
            raise _invalid("expired")
        if claims.iat > moment + _CLOCK_SKEW:
            raise _invalid("issued in the future")
        if audience is None:
            if claims.iss not in claims.aud:
                raise _invalid("audience is another resource")
        elif audience != ANY_AUDIENCE and audience not in claims.aud:
            raise _invalid("wrong audience")
        self.check_status(claims)
        return claims

    def _authentic(self, raw: str) -> AccessTokenClaims:
        """The claims of a token whose signature we checked, remembered by its digest.

        A PEP or API client presents the same token for many requests; its signature
        (tens of microseconds of Ed25519) is checked once. What it says is fixed by the
        signature, so remembering it is exact; expiry, audience and status are still
        checked on every use. A key-ring reload (rotation) forgets everything.
        """
        digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).digest()
        generation = self.keys.generation
        known = self._verified.get(digest)
        if known is not None and known[0] == generation:
            return known[1]
        _, values = self.keys.verify_jwt(raw, typ=TYP)
        claims = AccessTokenClaims.from_jwt(values)
        if len(self._verified) >= _VERIFIED_LIMIT:
            self._verified = {}
        self._verified[digest] = (generation, claims)
        return claims

    def check_status(self, claims: AccessTokenClaims) -> None:
        status = self.status
        status.sync()  # once; the reads below then see one current state
        if status.is_token_revoked_synced(claims.jti):
            raise _invalid("revoked")
        if status.is_client_revoked_synced(claims.client_id):
            raise _invalid("client revoked")
        for identity_id in (claims.sub, *claims.actors):
            info = status.identity_synced(identity_id)
            if info is None or not info.is_active:
                raise _invalid("identity not active")
            # As in the PDP: an agent (or owned service) has no more rights than its
            # owner, so its tokens die while the owner is suspended.
            if info.owner_id is not None:
                owner = status.identity_synced(info.owner_id)
                if owner is None or not owner.is_active:
                    raise _invalid("owner not active")

    def actor_for(self, claims: AccessTokenClaims, *, channel: str = "api") -> Actor:
        """The :class:`Actor` a token stands for: the current actor, on behalf of the rest."""
        chain = (*claims.actors, claims.sub) if claims.act else (claims.sub,)
        people = [self._describe(identity_id) for identity_id in chain]
        head = people[0]
        return Actor(
            kind=head["kind"],
            name=head["name"],
            identity_id=head["id"],
            delegation=tuple(people[1:]),
            token_id=claims.jti,
            scopes=frozenset(claims.scope),
            channel=channel,
            context={"client_id": claims.client_id},
        )

    def _describe(self, identity_id: str) -> dict[str, Any]:
        # Only the kind and name, which never change: no need to catch up with status.
        info = self.status.identity_synced(identity_id)
        if info is None:
            return {"id": identity_id, "kind": "unknown", "name": identity_id}
        return {"id": info.id, "kind": info.kind, "name": info.name}

    def revoke(
        self, uow: UnitOfWork, actor: Actor, claims: AccessTokenClaims, *, reason: str | None = None
    ) -> bool:
        """Revoke one token by ``jti``; idempotent. Returns ``False`` if it already was.

        Every node hears of it through ``token.revoked`` (``{"id", "exp"}``).
        """
        if uow.session.get(RevokedToken, claims.jti) is not None:
            return False
        expires_at = datetime.fromtimestamp(claims.exp, UTC)
        uow.session.add(
            RevokedToken(
                jti=claims.jti,
                identity_id=claims.sub,
                client_id=claims.client_id,
                expires_at=expires_at,
            )
        )
        uow.flush()
        record(
            uow.session,
            actor,
            "token.revoke",
            resource_type="access_token",
            resource_id=claims.jti,
            reason=reason,
            context={"client_id": claims.client_id, "sub": claims.sub},
        )
        uow.publish(TOKEN_REVOKED_TOPIC, {"id": claims.jti, "exp": expires_at.isoformat()})
        return True


def _invalid(reason: str) -> InvalidAccessToken:
    error = InvalidAccessToken("the access token is not valid")
    error.reason = reason  # type: ignore[attr-defined]
    return error
