"""Tokens: an OAuth 2.0 authorization server for humans, services and agents.

Short-lived EdDSA-signed JWT access tokens (RFC 9068) from ``client_credentials``
(RFC 6749 §4.4) and token exchange with ``act`` delegation (RFC 8693), introspection
(RFC 7662), revocation (RFC 7009), metadata (RFC 8414) and a rotating JWKS. Status is
checked on every verification through :class:`limen.access.StatusView`.
"""

from limen.tokens.clients import (
    AUTH_METHODS,
    CLIENT_SECRET_PREFIX,
    AuthenticatedClient,
    ClientCredentials,
    ClientIdentity,
    Clients,
    authenticate_client,
    get_client,
    list_clients,
    register_client,
    revoke_client,
    rotate_client_secret,
)
from limen.tokens.errors import (
    AccessTokenExpired,
    ClientNotFound,
    ClientRevoked,
    InvalidAccessToken,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    SigningUnavailable,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedTokenType,
)
from limen.tokens.keys import KEYS_TOPIC, SigningKeys
from limen.tokens.rfc6749 import TokenEndpoint, credentials_from
from limen.tokens.rfc6749.grants.client_credentials import ClientCredentialsGrant
from limen.tokens.rfc7009 import revoke_token
from limen.tokens.rfc7523 import UsedAssertions
from limen.tokens.rfc7662 import introspect
from limen.tokens.rfc8414 import server_metadata
from limen.tokens.rfc8693 import ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE
from limen.tokens.rfc9068 import AccessTokenClaims
from limen.tokens.service import ANY_AUDIENCE, IssuedToken, TokenService

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "ANY_AUDIENCE",
    "AUTH_METHODS",
    "CLIENT_SECRET_PREFIX",
    "JWT_TOKEN_TYPE",
    "KEYS_TOPIC",
    "AccessTokenClaims",
    "AccessTokenExpired",
    "AuthenticatedClient",
    "ClientCredentials",
    "ClientCredentialsGrant",
    "ClientIdentity",
    "ClientNotFound",
    "ClientRevoked",
    "Clients",
    "InvalidAccessToken",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidTarget",
    "IssuedToken",
    "OAuthError",
    "SigningKeys",
    "SigningUnavailable",
    "TokenEndpoint",
    "TokenService",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedTokenType",
    "UsedAssertions",
    "authenticate_client",
    "credentials_from",
    "get_client",
    "introspect",
    "list_clients",
    "register_client",
    "revoke_client",
    "revoke_token",
    "rotate_client_secret",
    "server_metadata",
]
