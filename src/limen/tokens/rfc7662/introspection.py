"""Token introspection (RFC 7662 §2): is this token active right now, and what is it?

https://www.rfc-editor.org/rfc/rfc7662#section-2.2

Never an error for a bad token: "If the introspection call is properly authorized but the
token is not active, does not exist on this server, or the protected resource is not
allowed to introspect this particular token, then the authorization server MUST return
an introspection response with the "active" field set to false" (§2.2).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from limen.tokens.errors import InvalidAccessToken
from limen.tokens.service import ANY_AUDIENCE, TokenService

__all__ = ["introspect"]

_INACTIVE: dict[str, Any] = {"active": False}


def introspect(
    tokens: TokenService, token: str | None, *, now: datetime | None = None
) -> dict[str, Any]:
    """The RFC 7662 §2.2 response for ``token``; status is read live."""
    if not token:
        return dict(_INACTIVE)
    try:
        claims = tokens.verify(token, audience=ANY_AUDIENCE, now=now)
    except InvalidAccessToken:
        return dict(_INACTIVE)
    body: dict[str, Any] = {
        "active": True,
        **claims.to_jwt(),
        "token_type": "Bearer",
    }
    info = tokens.status.identity(claims.sub)
    if info is not None:
        body["username"] = info.name
    return body
