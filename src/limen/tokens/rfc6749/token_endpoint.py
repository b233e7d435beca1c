"""``POST /oauth2/token``: dispatch a token request to its grant (RFC 6749 §3.2, §5).

https://www.rfc-editor.org/rfc/rfc6749#section-3.2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from limen.audit import Actor, Outcome, record
from limen.errors import LimenError
from limen.store.models import utcnow
from limen.tokens.clients import ClientCredentials, authenticate_client
from limen.tokens.errors import InvalidClient, InvalidRequest, UnsupportedGrantType
from limen.tokens.rfc6749.authentication import _one
from limen.tokens.rfc6749.grants.client_credentials import ClientCredentialsGrant
from limen.tokens.rfc8693.exchange import TokenExchangeGrant
from limen.tokens.service import TokenService

__all__ = ["TokenEndpoint"]


class TokenEndpoint:
    """Authenticates the client, runs the grant, records the outcome either way."""

    GRANTS = (ClientCredentialsGrant, TokenExchangeGrant)

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens
        self.grant_types = tuple(g.GRANT_TYPE for g in self.GRANTS)

    def handle(
        self,
        form: Mapping[str, Sequence[str]],
        credentials: ClientCredentials,
        *,
        issuer: str,
        token_endpoint: str,
        context: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Answer a token request with the RFC 6749 §5.1 body, or raise an OAuth error."""
        now = now or utcnow()
        grant_type = _one(form, "grant_type")
        grant = next((g for g in self.GRANTS if grant_type == g.GRANT_TYPE), None)
        if grant is None:
            if not grant_type:
                raise InvalidRequest("grant_type is required")
            raise UnsupportedGrantType(f"grant_type {grant_type[:100]!r} is not supported")
        db = self.tokens.db
        # Make the first signing key now, not inside the grant's write transaction:
        # on SQLite a second writer would wait on the first.
        self.tokens.keys.current_kid()
        try:
            with db.unit_of_work() as uow:
                client, identity = authenticate_client(
                    uow.session, credentials, token_endpoint=token_endpoint, now=now
                )
                actor = Actor(
                    kind=str(identity.kind),
                    name=identity.name,
                    identity_id=identity.id,
                    channel="oauth",
                    context={"client_id": client.client_id, **(context or {})},
                )
                issued = grant(self.tokens).grant(
                    uow, actor, client, identity, form, issuer=issuer, now=now
                )
        except LimenError as exc:
            # The grant's transaction rolled back; the failure is recorded on its own.
            # Its reason may say more than the response does (never a secret).
            with db.unit_of_work() as uow:
                who = credentials.client_id or "unknown"
                record(
                    uow.session,
                    Actor(
                        kind="oauth_client",
                        name=f"client:{who[:64]}",
                        channel="oauth",
                        context=dict(context or {}),
                    ),
                    "oauth.client.authenticate"
                    if isinstance(exc, InvalidClient)
                    else "token.issue",
                    resource_type="oauth_client",
                    resource_id=who[:64],
                    outcome=Outcome.DENIED,
                    reason=getattr(exc, "reason", None) or exc.detail,
                    context={"grant_type": grant_type, "error": getattr(exc, "error", exc.code)},
                )
            raise
        return issued.to_response()
