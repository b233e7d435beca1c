"""RFC 9068: JSON Web Token profile for OAuth 2.0 access tokens.

https://www.rfc-editor.org/rfc/rfc9068
"""

from limen.tokens.rfc9068.claims import TYP, AccessTokenClaims

__all__ = ["TYP", "AccessTokenClaims"]
