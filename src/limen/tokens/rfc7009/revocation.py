"""Token revocation (RFC 7009 §2): a client withdraws a token it was issued.

https://www.rfc-editor.org/rfc/rfc7009#section-2.1
"""

from __future__ import annotations

from datetime import datetime

from limen.audit import Actor
from limen.store import UnitOfWork
from limen.tokens.errors import InvalidAccessToken, UnauthorizedClient, UnsupportedTokenType
from limen.tokens.service import TokenService

__all__ = ["revoke_token"]

_HINTS = (None, "access_token", "refresh_token")


def revoke_token(
    uow: UnitOfWork,
    tokens: TokenService,
    actor: Actor,
    token: str,
    *,
    token_type_hint: str | None = None,
    client_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Revoke ``token``; ``True`` if this call revoked it.

    ``client_id`` is the authenticated client; it may revoke only its own tokens
    ("the authorization server … verifies whether the token was issued to the client
    making the revocation request", §2.1). ``None`` means an administrator with the
    ``tokens:revoke`` scope. An unknown, malformed or expired token is not an error:
    "invalid tokens do not cause an error response" (§2.2).
    """
    if token_type_hint not in _HINTS:
        raise UnsupportedTokenType(f"token_type_hint {token_type_hint[:40]!r} is not supported")
    try:
        claims = tokens.verify(token, check_expiry=False, audience="*", now=now)
    except InvalidAccessToken:
        return False
    if client_id is not None and claims.client_id != client_id:
        raise UnauthorizedClient("a client may revoke only the tokens issued to it")
    return tokens.revoke(uow, actor, claims)
