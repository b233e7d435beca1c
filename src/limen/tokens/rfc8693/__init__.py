"""RFC 8693: OAuth 2.0 token exchange, for agents acting on behalf of their humans.

https://www.rfc-editor.org/rfc/rfc8693
"""

from limen.tokens.rfc8693.exchange import (
    ACCESS_TOKEN_TYPE,
    GRANT_TYPE,
    JWT_TOKEN_TYPE,
    TokenExchangeGrant,
)

__all__ = ["ACCESS_TOKEN_TYPE", "GRANT_TYPE", "JWT_TOKEN_TYPE", "TokenExchangeGrant"]
