"""RFC 7662: OAuth 2.0 token introspection.

https://www.rfc-editor.org/rfc/rfc7662
"""

from limen.tokens.rfc7662.introspection import introspect

__all__ = ["introspect"]
