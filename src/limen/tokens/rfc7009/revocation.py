"""Token revocation (RFC 7009 §2): withdraw a token Limen issued, whatever its state.

https://www.rfc-editor.org/rfc/rfc7009#section-2.1

Both kinds of token Limen issues can be revoked here: its JWT access tokens and its
opaque ``limen_…`` tokens (admin, personal, service account, events feed). A token is
revoked whatever its identity's status: a suspended identity's token that was not
revoked would come back to life were it not for the cut-off, and the holder of a
leaked token must be able to kill it.
"""

from __future__ import annotations

from datetime import datetime

from limen.audit import Actor
from limen.identity import TOKEN_PREFIX, find_token, revoke_api_token
from limen.store import UnitOfWork
from limen.store.models import utcnow
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

    ``client_id`` is the authenticated client; it may revoke only the tokens issued to
    it ("the authorization server … verifies whether the token was issued to the client
    making the revocation request", §2.1). ``None`` means a caller the guard allowed to
    revoke tokens, or the token's own holder. An unknown, malformed or expired token is
    not an error: "invalid tokens do not cause an error response" (§2.2).
    """
    if token_type_hint not in _HINTS:
        raise UnsupportedTokenType(f"token_type_hint {token_type_hint[:40]!r} is not supported")
    if token.startswith(TOKEN_PREFIX):
        stored = find_token(uow.session, token)
        if stored is None or stored.revoked_at is not None:
            return False
        if client_id is not None:
            raise UnauthorizedClient("a client may revoke only the tokens issued to it")
        revoke_api_token(uow, actor, stored.id, reason="revoked through /oauth2/revoke")
        return True
    try:
        claims = tokens.authentic(token)
    except InvalidAccessToken:
        return False
    if claims.exp <= (now or utcnow()).timestamp():
        return False  # expired: it cannot be used anyway
    if client_id is not None and claims.client_id != client_id:
        raise UnauthorizedClient("a client may revoke only the tokens issued to it")
    return tokens.revoke(uow, actor, claims)
