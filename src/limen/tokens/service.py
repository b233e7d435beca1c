"""Issue, verify and revoke JWT access tokens, with status checked on every verification.

A token is valid only while its signature verifies, it names this installation as its
issuer, it has not expired, its ``jti`` and its client are not revoked, and its subject
and every actor in its ``act`` chain (and their owners) are in good standing and were
not cut off after it was issued. Standing comes from :class:`limen.identity.StatusView`,
current on every node, so a revocation or suspension is honoured by the next
verification, and a token issued before a suspension never works again.

The issuer is configuration (``LIMEN_PUBLIC_URL``), never a request header.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session

from limen.audit import Actor, record
from limen.audit.durable import EventWriter, Write
from limen.errors import Unavailable
from limen.identity.status import StatusView, token_date
from limen.ids import new_id
from limen.store import Database, UnitOfWork
from limen.store.models import OAuthClient, RevokedToken, utcnow
from limen.tokens.clients import AuthenticatedClient
from limen.tokens.errors import AccessTokenExpired, InvalidAccessToken, InvalidTarget
from limen.tokens.keys import SigningKeys
from limen.tokens.rfc7523 import UsedAssertions
from limen.tokens.rfc9068.claims import TYP, AccessTokenClaims

__all__ = ["ANY_AUDIENCE", "IssuedToken", "TokenService", "audiences_for"]

ANY_AUDIENCE: Final = "*"
"""Pass as ``audience`` to accept a token whatever it was minted for (token exchange)."""

_CLOCK_SKEW = 60
_SHORTEST = 30
"""Seconds: no scale shortens a token's lifetime below this."""
_VERIFIED_LIMIT = 20_000
_SWEEP_FLOOR = 512
"""Remembered tokens at which expired ones are first forgotten (then at twice what is
left): the cache holds about the tokens still alive, not every token ever presented."""
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
        self,
        db: Database,
        *,
        keys: SigningKeys,
        status: StatusView,
        ttl: timedelta,
        issuer: str,
        events: EventWriter,
        used_assertions: UsedAssertions,
        lifetime_scale: Callable[[], float] | None = None,
    ) -> None:
        self.db = db
        self.used_assertions = used_assertions
        """The client assertions already used, shared by every node (RFC 7523 §3)."""
        self.events = events
        """The process's group-committing event writer (issuance events on SQLite)."""
        self.keys = keys
        self.status = status
        self.ttl = ttl
        self._lifetime_scale = lifetime_scale
        """The share of ``ttl`` tokens get right now (the threat level shortens it)."""
        self.issuer = issuer.rstrip("/")
        """This installation's identifier in every token (``iss``; the ``aud`` of tokens
        for Limen's own API): ``LIMEN_PUBLIC_URL``."""
        self._verified: dict[bytes, tuple[int, AccessTokenClaims]] = {}
        self._sweep_at = _SWEEP_FLOOR
        keys.retain_for(ttl)

    def issue(
        self,
        uow: UnitOfWork,
        actor: Actor,
        *,
        subject: str,
        client: AuthenticatedClient | OAuthClient,
        scope: tuple[str, ...],
        audience: tuple[str, ...] | None = None,
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
        audience: tuple[str, ...] | None = None,
        act: dict[str, Any] | None = None,
        action: str = "token.issue",
        context: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> tuple[IssuedToken, Write]:
        """Sign a token for ``subject``; return it and the write that records its issuance.

        The token must not be handed out before that write is committed (the token
        endpoint gives it to the service's ``events`` writer, which commits many
        grants' events together).
        """
        now = now or utcnow()
        chain = (subject, *_act_ids(act))
        # Never dated before a cut-off of anyone it acts as or for: see token_date.
        iat = token_date(now.timestamp(), self.status.cut_off(chain))
        lifetime = int(self.ttl.total_seconds())
        if self._lifetime_scale is not None:
            lifetime = max(min(lifetime, _SHORTEST), int(lifetime * self._lifetime_scale()))
        claims = AccessTokenClaims(
            iss=self.issuer,
            sub=subject,
            aud=audience or (self.issuer,),
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
        :data:`ANY_AUDIENCE` accepts any. The raised error says only "not valid", or
        :class:`AccessTokenExpired` that it has expired; its ``reason`` attribute says why,
        for the audit trail.
        """
        claims = self.authentic(raw)
        moment = (now or utcnow()).timestamp()
        if check_expiry and claims.exp <= moment:
            error = AccessTokenExpired("the access token has expired")
            error.reason = "expired"  # type: ignore[attr-defined]
            raise error
        if claims.iat > moment + _CLOCK_SKEW:
            raise _invalid("issued in the future")
        if audience is None:
            if self.issuer not in claims.aud:
                raise _invalid("audience is another resource")
        elif audience != ANY_AUDIENCE and audience not in claims.aud:
            raise _invalid("wrong audience")
        self.check_status(claims)
        return claims

    def authentic(self, raw: str) -> AccessTokenClaims:
        """The claims of a token we issued (signature and issuer checked, nothing else),
        remembered by its digest; raises :class:`InvalidAccessToken`.

        A PEP or API client presents the same token for many requests; its Ed25519
        signature is checked once (``benchmarks/tokens.py``). What it says is fixed by the
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
        if claims.iss != self.issuer:
            raise _invalid("another issuer")
        if len(self._verified) >= self._sweep_at:
            self._forget_expired()
        self._verified[digest] = (generation, claims)
        return claims

    def _forget_expired(self) -> None:
        """Forget the tokens that have expired: their claims are never accepted again, and
        under token churn (new credentials every few minutes, a SOAR's after each
        containment) they were kept until 20,000, the node's memory creeping meanwhile."""
        now = utcnow().timestamp()
        # Over a copy: verification runs on several threads, and one that inserts
        # meanwhile only loses its entry (a signature checked once more).
        alive = {
            digest: known for digest, known in list(self._verified.items()) if known[1].exp > now
        }
        if len(alive) >= _VERIFIED_LIMIT:
            alive = {}
        self._verified = alive
        self._sweep_at = max(_SWEEP_FLOOR, 2 * len(alive))

    def check_status(self, claims: AccessTokenClaims) -> None:
        """Refuse a token whose subject, actors or their owners may not act now, or that
        was issued before any of them was cut off; or whose ``jti`` or client is revoked.
        An agent (or owned service) has no more rights than its owner, so its tokens die
        while the owner is suspended, as in the PDP."""
        why = self.status.refusal(
            (*claims.actors, claims.sub),
            issued_at=claims.iat,
            token_id=claims.jti,
            client_id=claims.client_id,
        )
        if why == "stale":
            raise Unavailable("identity status cannot be confirmed right now; retry shortly")
        if why is not None:
            raise _invalid(why)

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
        info = self.status.identity(identity_id)
        if info is None:
            return {"id": identity_id, "kind": "unknown", "name": identity_id}
        return {"id": info.id, "kind": info.kind, "name": info.name}

    def revoke(
        self, uow: UnitOfWork, actor: Actor, claims: AccessTokenClaims, *, reason: str | None = None
    ) -> bool:
        """Revoke one token by ``jti``; idempotent. Returns ``False`` if it already was.

        Every node hears of it (the status view's hook publishes the new row).
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
        return True


def _act_ids(act: dict[str, Any] | None) -> list[str]:
    ids = []
    while isinstance(act, dict) and act.get("sub"):
        ids.append(str(act["sub"]))
        act = act.get("act")
    return ids


def _invalid(reason: str) -> InvalidAccessToken:
    error = InvalidAccessToken("the access token is not valid")
    error.reason = reason  # type: ignore[attr-defined]
    return error
