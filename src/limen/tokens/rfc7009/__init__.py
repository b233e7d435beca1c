"""RFC 7009: OAuth 2.0 token revocation.

https://www.rfc-editor.org/rfc/rfc7009
"""

from limen.tokens.rfc7009.revocation import revoke_token

__all__ = ["revoke_token"]
