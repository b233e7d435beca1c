"""Token exchange (RFC 8693 §2): an agent trades its human's token for a delegated one.

https://www.rfc-editor.org/rfc/rfc8693#section-2

The authenticated client is the *actor* (an agent); ``subject_token`` is a token of the
human it acts for. The result's ``sub`` is the human and its ``act`` claim names the
agent, nesting any earlier ``act`` (§4.1). Limen adds two rules of its own:

- the actor must be owned by the subject: an agent acts only for its own human;
- the scope is at most the intersection of the subject token's scope and the client's
  registered scope, so a delegated token never grants more than either party holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar, Final

from limen.audit import Actor
from limen.audit.durable import Write
from limen.tokens.clients import AuthenticatedClient, ClientIdentity
from limen.tokens.errors import (
    AccessTokenExpired,
    InvalidAccessToken,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    UnauthorizedClient,
)
from limen.tokens.rfc6749.authentication import _one
from limen.tokens.rfc6749.grants.client_credentials import requested_scope
from limen.tokens.service import ANY_AUDIENCE, IssuedToken, TokenService, audiences_for

__all__ = ["ACCESS_TOKEN_TYPE", "GRANT_TYPE", "JWT_TOKEN_TYPE", "TokenExchangeGrant"]

GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105
_ACCEPTED_TYPES: Final = (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE)


class TokenExchangeGrant:
    """``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``."""

    GRANT_TYPE: ClassVar[str] = GRANT_TYPE

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    def grant(
        self,
        actor: Actor,
        client: AuthenticatedClient,
        identity: ClientIdentity,
        form: Mapping[str, Sequence[str]],
        *,
        now: datetime,
    ) -> tuple[IssuedToken, Write]:
        subject_token = _one(form, "subject_token")
        subject_token_type = _one(form, "subject_token_type")
        actor_token = _one(form, "actor_token")
        actor_token_type = _one(form, "actor_token_type")
        requested_type = _one(form, "requested_token_type")
        if not subject_token or not subject_token_type:
            raise InvalidRequest(
                "subject_token and subject_token_type are required (RFC 8693 §2.1)"
            )
        if subject_token_type not in _ACCEPTED_TYPES:
            raise InvalidRequest(f"subject_token_type must be one of {', '.join(_ACCEPTED_TYPES)}")
        if requested_type is not None and requested_type not in _ACCEPTED_TYPES:
            raise InvalidRequest("requested_token_type must be an access token or a JWT")
        if (actor_token is None) != (actor_token_type is None):
            raise InvalidRequest("actor_token and actor_token_type go together (RFC 8693 §2.1)")

        try:
            subject = self.tokens.verify(subject_token, audience=ANY_AUDIENCE, now=now)
        except InvalidAccessToken as exc:
            error = InvalidGrant(f"the subject_token {_what_is_wrong(exc)}")
            error.reason = f"subject_token: {getattr(exc, 'reason', 'not valid')}"  # type: ignore[attr-defined]
            raise error from None
        if actor_token is not None:
            if actor_token_type not in _ACCEPTED_TYPES:
                raise InvalidRequest("actor_token_type must be an access token or a JWT")
            try:
                proof = self.tokens.verify(actor_token, audience=ANY_AUDIENCE, now=now)
            except InvalidAccessToken as exc:
                raise InvalidGrant(f"the actor_token {_what_is_wrong(exc)}") from None
            # The actor token must prove the identity of the client presenting it.
            if proof.acting_identity != identity.id:
                raise InvalidGrant("the actor_token is not the authenticated client's")

        human = self.tokens.status.identity(subject.sub)
        if human is None:
            raise InvalidGrant("the subject_token is not valid")
        delegating = identity.id != subject.sub
        if delegating and identity.owner_id != subject.sub:
            # Fail closed: only the owner's tokens may be exchanged by an agent. The
            # message says what rule applied, not who owns the agent.
            raise UnauthorizedClient(
                f"{identity.name!r} is not owned by the subject_token's identity and may not "
                "act on its behalf"
            )

        allowed = set(subject.scope) & set(client.scopes)
        asked = requested_scope(form)
        if asked is not None and not set(asked) <= allowed:
            extra = sorted(set(asked) - allowed)
            raise InvalidScope(
                f"{' '.join(extra)[:200]} exceeds what both the subject and the client hold"
            )
        scope = asked if asked is not None else tuple(sorted(allowed))
        if not scope and (subject.scope or asked):
            raise InvalidScope("the subject and the client share no scope")
        act = None
        if delegating:
            act = {"sub": identity.id}
            if subject.act:
                act["act"] = subject.act
        elif subject.act:
            act = subject.act
        audience = audiences_for(list(form.get("resource") or ()), issuer=self.tokens.issuer)
        # RFC 8693 §2.1 audience, §2.2.2: a target the server will not issue a token for
        # is invalid_target, never silently dropped. Limen's tokens are for its own API
        # (the issuer) or the resources asked for (RFC 8707), so those are the audiences
        # it honours.
        for name in form.get("audience") or ():
            if name not in (*audience, self.tokens.issuer):
                raise InvalidTarget(
                    f"audience {name[:200]!r} is neither this server ({self.tokens.issuer}) "
                    "nor a requested resource; ask for it as a resource"
                )
        delegated_actor = Actor(
            kind=actor.kind,
            name=actor.name,
            identity_id=actor.identity_id,
            delegation=({"id": human.id, "kind": human.kind, "name": human.name},),
            token_id=subject.jti,
            channel=actor.channel,
            context=actor.context,
        )
        issued, write = self.tokens.mint(
            delegated_actor,
            subject=subject.sub,
            client=client,
            scope=scope,
            audience=audience,
            act=act,
            action="token.exchange",
            context={"grant_type": GRANT_TYPE, "subject_jti": subject.jti},
            now=now,
        )
        return IssuedToken(
            issued.access_token,
            issued.expires_in,
            issued.claims,
            issued_token_type=requested_type or ACCESS_TOKEN_TYPE,
        ), write


def _what_is_wrong(exc: InvalidAccessToken) -> str:
    """What a client may be told of a token it sent: that it expired, or only that it is
    not valid (the precise reason is the audit event's)."""
    return "has expired" if isinstance(exc, AccessTokenExpired) else "is not valid"
