"""``POST /oauth2/token``: dispatch a token request to its grant (RFC 6749 §3.2, §5).

https://www.rfc-editor.org/rfc/rfc6749#section-3.2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from limen.audit import Actor, Outcome, record
from limen.audit.durable import Write, commit_now
from limen.errors import LimenError, Unavailable
from limen.ids import is_id
from limen.store.models import utcnow
from limen.tokens.clients import (
    AuthenticatedClient,
    ClientCredentials,
    ClientIdentity,
    authenticate_client,
)
from limen.tokens.errors import InvalidClient, InvalidRequest, UnsupportedGrantType
from limen.tokens.rfc6749.authentication import _one
from limen.tokens.rfc6749.grants.client_credentials import ClientCredentialsGrant
from limen.tokens.rfc8693.exchange import TokenExchangeGrant
from limen.tokens.service import IssuedToken, TokenService

__all__ = ["TokenEndpoint"]


class TokenEndpoint:
    """Authenticates the client, runs the grant, records the outcome either way."""

    GRANTS = (ClientCredentialsGrant, TokenExchangeGrant)

    def __init__(self, tokens: TokenService, *, path: str = "/oauth2/token") -> None:
        self.tokens = tokens
        self.grant_types = tuple(g.GRANT_TYPE for g in self.GRANTS)
        self.url = tokens.issuer + path
        """This endpoint's URL: what a ``private_key_jwt`` assertion's ``aud`` names."""

    def handle(
        self,
        form: Mapping[str, Sequence[str]],
        credentials: ClientCredentials,
        *,
        context: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Answer a token request with the RFC 6749 §5.1 body, or raise an OAuth error.

        Returns once the issuance event is committed.
        """
        issued, write = self.prepare(form, credentials, context=context, now=now)
        self._commit([write])
        return issued.to_response()

    def admit(self, identity: ClientIdentity) -> None:
        """A hook for endpoints that serve only some clients (raise to refuse)."""

    def _commit(self, writes: list[Write]) -> None:
        """Commit event writes before returning, from a thread that may block.

        On SQLite writers queue on one lock, so one writer thread commits for everyone.
        PostgreSQL commits concurrent transactions in parallel (and flushes their WAL
        together); there, hopping to a single writer thread would only serialise them.
        """
        db = self.tokens.db
        if db.dialect.serialises_writes:
            self.tokens.events.write(writes)
            return
        commit_now(db, writes)

    def prepare(
        self,
        form: Mapping[str, Sequence[str]],
        credentials: ClientCredentials,
        *,
        context: dict[str, Any] | None = None,
        now: datetime | None = None,
        refusals: list[Write] | None = None,
    ) -> tuple[IssuedToken, Write]:
        """Authenticate the client, run the grant and sign: the token and the write that
        records its issuance, which must be committed before the token is handed out
        (``handle`` does; an async caller awaits ``tokens.events.written([write])``).

        A refusal is raised after its event is committed, or, given ``refusals``, after
        its write is appended there for the caller to commit before answering. Reads
        are lookups (``Database.reading()``): no ORM session, no transaction.
        """
        now = now or utcnow()
        grant_type = _one(form, "grant_type")
        grant = next((g for g in self.GRANTS if grant_type == g.GRANT_TYPE), None)
        if grant is None:
            if not grant_type:
                raise InvalidRequest("grant_type is required")
            raise UnsupportedGrantType(f"grant_type {grant_type[:100]!r} is not supported")
        db = self.tokens.db
        # Make the first signing key now, not inside a write transaction: on SQLite a
        # second writer would wait on the first.
        self.tokens.keys.current_kid()

        def authenticated() -> tuple[AuthenticatedClient, ClientIdentity]:
            # Only reads: the grant's one write, its event, is group-committed with other
            # requests' events instead of taking the write lock for a transaction of its own.
            with db.reading() as reader:
                return authenticate_client(
                    reader,
                    credentials,
                    status=self.tokens.status,
                    token_endpoints=(self.url, self.tokens.issuer),
                    used_assertions=self.tokens.used_assertions,
                    now=now,
                )

        try:
            # A read: retried once on a connection found dead (a restarted database).
            client, identity = db.retrying(authenticated)
            self.admit(identity)
            actor = Actor(
                kind=str(identity.kind),
                name=identity.name,
                identity_id=identity.id,
                channel="oauth",
                context={"client_id": client.client_id, **(context or {})},
            )
            return grant(self.tokens).grant(actor, client, identity, form, now=now)
        except Unavailable:
            raise  # nothing was refused: the answer is "try again"
        except LimenError as exc:
            # Its reason may say more than the response does (never a secret). Only what
            # has the shape of a client id is recorded as one: people paste secrets into
            # the wrong field, and the trail must not keep them.
            who = credentials.client_id if is_id(credentials.client_id or "") else "unknown"
            refused = Actor(
                kind="oauth_client",
                name=f"client:{who}",
                channel="oauth",
                context=dict(context or {}),
            )
            action = (
                "oauth.client.authenticate" if isinstance(exc, InvalidClient) else "token.issue"
            )
            details = {
                "outcome": Outcome.DENIED,
                "reason": getattr(exc, "reason", None) or exc.detail,
                "context": {"grant_type": grant_type, "error": getattr(exc, "error", exc.code)},
            }

            def write(session: Session) -> None:
                record(
                    session,
                    refused,
                    action,
                    resource_type="oauth_client",
                    resource_id=who,
                    **details,
                )

            if refusals is None:
                self._commit([write])
            else:
                refusals.append(write)
            raise
