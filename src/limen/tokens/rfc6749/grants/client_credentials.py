"""The client credentials grant (RFC 6749 §4.4): a client gets a token for its own identity.

https://www.rfc-editor.org/rfc/rfc6749#section-4.4
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar

from limen.audit import Actor
from limen.audit.durable import Write
from limen.tokens.clients import AuthenticatedClient, ClientIdentity
from limen.tokens.errors import InvalidScope
from limen.tokens.rfc6749.authentication import _one
from limen.tokens.service import IssuedToken, TokenService, audiences_for

__all__ = ["ClientCredentialsGrant", "requested_scope"]


def requested_scope(form: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    raw = _one(form, "scope")
    if raw is None:
        return None
    return tuple(sorted(set(raw.split())))


class ClientCredentialsGrant:
    """``grant_type=client_credentials``; the token's ``sub`` is the client's identity."""

    GRANT_TYPE: ClassVar[str] = "client_credentials"

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
        allowed = set(client.scopes)
        asked = requested_scope(form)
        # RFC 6749 §3.3: the server may grant less than asked, but never more than the
        # client is registered for; asking for more is refused outright, not trimmed, so
        # a misconfigured client notices.
        if asked is not None and not set(asked) <= allowed:
            extra = sorted(set(asked) - allowed)
            raise InvalidScope(f"this client may not be granted {' '.join(extra)[:200]}")
        scope = asked if asked is not None else tuple(sorted(allowed))
        audience = audiences_for(list(form.get("resource") or ()), issuer=self.tokens.issuer)
        return self.tokens.mint(
            actor,
            subject=identity.id,
            client=client,
            scope=scope,
            audience=audience,
            context={"grant_type": self.GRANT_TYPE},
            now=now,
        )
