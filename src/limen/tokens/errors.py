"""Errors of the tokens package: RFC 6749 §5.2 error codes under Limen's families.

https://www.rfc-editor.org/rfc/rfc6749#section-5.2

::

    LimenError
     ├── Unauthenticated
     │    ├── InvalidClient        invalid_client: client authentication failed
     │    └── InvalidAccessToken   a bearer JWT is not (or no longer) valid
     │         └── AccessTokenExpired  … because its lifetime has ended (says so)
     ├── InvalidInput
     │    ├── InvalidRequest       invalid_request: a parameter is missing or malformed
     │    ├── InvalidGrant         invalid_grant: the subject/actor token is not usable
     │    ├── InvalidScope         invalid_scope: more scope than may be granted
     │    ├── InvalidTarget        invalid_target: the ``resource`` is not acceptable (RFC 8707)
     │    ├── UnsupportedGrantType unsupported_grant_type
     │    └── UnsupportedTokenType unsupported_token_type (RFC 7009 §2.2.1)
     ├── Denied
     │    └── UnauthorizedClient   unauthorized_client: this client may not do that
     ├── NotFound
     │    └── ClientNotFound       no client with that id (CLI / admin API)
     ├── Conflict
     │    └── ClientRevoked        the client is revoked: nothing more to change on it
     └── Unavailable
          └── SigningUnavailable   the signing key cannot be opened (wrong or missing root key)
"""

from __future__ import annotations

from typing import ClassVar

from limen.errors import Conflict, Denied, InvalidInput, NotFound, Unauthenticated, Unavailable

__all__ = [
    "AccessTokenExpired",
    "ClientNotFound",
    "ClientRevoked",
    "InvalidAccessToken",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidTarget",
    "OAuthError",
    "SigningUnavailable",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedTokenType",
]


class OAuthError:
    """Mixin: the error carries the RFC 6749 §5.2 ``error`` code its response uses."""

    error: ClassVar[str] = "invalid_request"


class InvalidRequest(OAuthError, InvalidInput):
    """RFC 6749 §5.2 ``invalid_request``: a required parameter is missing or malformed."""

    code = "invalid-request"
    error = "invalid_request"


class InvalidClient(OAuthError, Unauthenticated):
    """RFC 6749 §5.2 ``invalid_client``: unknown client, wrong secret, bad assertion.

    One error for every reason, so a caller learns nothing about which clients exist.
    """

    code = "invalid-client"
    error = "invalid_client"


class InvalidGrant(OAuthError, InvalidInput):
    """RFC 6749 §5.2 ``invalid_grant``: the presented token or grant is not usable."""

    code = "invalid-grant"
    error = "invalid_grant"


class UnauthorizedClient(OAuthError, Denied):
    """RFC 6749 §5.2 ``unauthorized_client``: this client may not use that grant or token."""

    code = "unauthorized-client"
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError, InvalidInput):
    """RFC 6749 §5.2 ``unsupported_grant_type``."""

    code = "unsupported-grant-type"
    error = "unsupported_grant_type"


class InvalidScope(OAuthError, InvalidInput):
    """RFC 6749 §5.2 ``invalid_scope``: more scope was asked for than may be granted."""

    code = "invalid-scope"
    error = "invalid_scope"


class InvalidTarget(OAuthError, InvalidInput):
    """RFC 8707 §2 ``invalid_target``: the ``resource`` is not an absolute URI."""

    code = "invalid-target"
    error = "invalid_target"


class UnsupportedTokenType(OAuthError, InvalidInput):
    """RFC 7009 §2.2.1 ``unsupported_token_type``."""

    code = "unsupported-token-type"
    error = "unsupported_token_type"


class InvalidAccessToken(OAuthError, Unauthenticated):
    """The bearer JWT is malformed, badly signed, expired, revoked, for another audience,
    or its identity is no longer active. One error for all, as RFC 6750 §3.1
    ``invalid_token``; the precise reason goes to the audit trail only.
    """

    code = "invalid-token"
    error = "invalid_token"


class AccessTokenExpired(InvalidAccessToken):
    """The bearer JWT was valid but its lifetime has ended: get a new one.

    Said outright (the issue's "an expired token is reported only as 'not valid'"):
    expiry reveals nothing an attacker could use, since ``exp`` is in the token itself,
    and it tells the holder what to do. Same ``code`` as an expired opaque token
    (:class:`limen.identity.TokenExpired`); still RFC 6750 ``invalid_token`` on the wire.
    """

    code = "token-expired"


class ClientNotFound(NotFound):
    """No OAuth client has that id."""

    code = "client-not-found"


class SigningUnavailable(Unavailable):
    """The token signing key cannot be opened: the root key is missing or not this one."""

    code = "signing-unavailable"


class ClientRevoked(Conflict):
    """The OAuth client is revoked; a revoked client is never given a new secret."""

    code = "client-revoked"
