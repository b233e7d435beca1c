"""RFC 8414: OAuth 2.0 authorization server metadata.

https://www.rfc-editor.org/rfc/rfc8414
"""

from limen.tokens.rfc8414.metadata import server_metadata

__all__ = ["server_metadata"]
