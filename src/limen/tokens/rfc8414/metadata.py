"""``/.well-known/oauth-authorization-server`` (RFC 8414 §2, §3).

https://www.rfc-editor.org/rfc/rfc8414#section-2
"""

from __future__ import annotations

from typing import Any

from limen.tokens.clients import AUTH_METHODS
from limen.tokens.rfc6749.grants.client_credentials import ClientCredentialsGrant
from limen.tokens.rfc8693.exchange import GRANT_TYPE as TOKEN_EXCHANGE

__all__ = ["server_metadata"]

_ENDPOINT_AUTH = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


def server_metadata(issuer: str) -> dict[str, Any]:
    """The metadata document for the authorization server at ``issuer``."""
    assert set(_ENDPOINT_AUTH) == set(AUTH_METHODS)
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth2/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "introspection_endpoint": f"{issuer}/oauth2/introspect",
        "revocation_endpoint": f"{issuer}/oauth2/revoke",
        "grant_types_supported": [ClientCredentialsGrant.GRANT_TYPE, TOKEN_EXCHANGE],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": _ENDPOINT_AUTH,
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA", "ES256", "RS256"],
        # Client authentication methods from the IANA registry only; a bearer token
        # with the right scope is also accepted (docs/tokens.md), but "bearer" is not a
        # client authentication method and clients choosing from this list break on it.
        "introspection_endpoint_auth_methods_supported": _ENDPOINT_AUTH,
        "revocation_endpoint_auth_methods_supported": _ENDPOINT_AUTH,
        "authorization_response_iss_parameter_supported": False,
        "service_documentation": "https://limen.dev/docs/tokens",
        "access_token_signing_alg_values_supported": ["EdDSA"],
    }
