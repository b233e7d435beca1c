"""RFC 6749: the OAuth 2.0 token endpoint and client authentication.

https://www.rfc-editor.org/rfc/rfc6749
"""

from limen.tokens.rfc6749.authentication import credentials_from
from limen.tokens.rfc6749.token_endpoint import TokenEndpoint

__all__ = ["TokenEndpoint", "credentials_from"]
