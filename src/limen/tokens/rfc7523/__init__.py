"""RFC 7523 §2.2: JWT bearer assertions for client authentication (``private_key_jwt``).

https://www.rfc-editor.org/rfc/rfc7523#section-2.2
"""

from limen.tokens.rfc7523.assertion import (
    CLIENT_ASSERTION_TYPE,
    UsedAssertions,
    assertion_subject,
    validate_client_jwks,
    verify_client_assertion,
)

__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "UsedAssertions",
    "assertion_subject",
    "validate_client_jwks",
    "verify_client_assertion",
]
