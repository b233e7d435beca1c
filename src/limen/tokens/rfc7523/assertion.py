"""Verify a client's signed assertion (RFC 7523 §3) with joserfc against its registered keys.

https://www.rfc-editor.org/rfc/rfc7523#section-3
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from limen.tokens.errors import InvalidClient, InvalidRequest
from limen.tokens.keys import b64url_decode

__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "assertion_subject",
    "validate_client_jwks",
    "verify_client_assertion",
]

CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ALGORITHMS: Final = ["EdDSA", "ES256", "ES384", "PS256", "RS256"]
_MAX_LIFETIME: Final = 3600  # Authlib and others default to an hour
_LEEWAY: Final = 30

_seen_lock = threading.Lock()
_seen: dict[str, float] = {}
"""Assertion ids already used on this node, until they expire (RFC 7523 §3 item 7)."""


def validate_client_jwks(jwks: dict[str, Any]) -> dict[str, Any]:
    """Accept a JWK Set of public keys only."""
    try:
        key_set = KeySet.import_key_set(jwks)
    except (JoseError, ValueError, TypeError, KeyError):
        raise InvalidRequest("jwks is not a valid JWK Set") from None
    public = {"keys": [key.as_dict(private=False) for key in key_set.keys]}
    if not public["keys"] or any(key.is_private for key in key_set.keys):
        raise InvalidRequest("jwks must hold public keys only")
    return public


def assertion_subject(assertion: str, assertion_type: str | None) -> str:
    """The client id an assertion claims to come from (unverified; ``sub`` per §3)."""
    if assertion_type != CLIENT_ASSERTION_TYPE or len(assertion) > 8192:
        raise InvalidClient("client authentication failed")
    try:
        claims = json.loads(b64url_decode(assertion.split(".")[1]))
    except (ValueError, IndexError):
        raise InvalidClient("client authentication failed") from None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(sub, str) or claims.get("iss") != sub:
        raise InvalidClient("client authentication failed")
    return sub


def verify_client_assertion(
    assertion: str,
    jwks: dict[str, Any],
    *,
    client_id: str,
    audiences: Sequence[str],
    now: datetime,
) -> None:
    """Check signature, ``iss``/``sub``, ``aud``, ``exp`` and one-time ``jti``.

    ``audiences``: what ``aud`` may name, the token endpoint's URL or the issuer
    (RFC 7523 §3: "the token endpoint URL of the authorization server MAY be used").
    """
    moment = now.timestamp()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc warns that "EdDSA" is now spelt "Ed25519"
            token = jwt.decode(assertion, KeySet.import_key_set(jwks), algorithms=_ALGORITHMS)
    except (JoseError, ValueError, TypeError):
        raise InvalidClient("client authentication failed") from None
    claims = token.claims
    aud = claims.get("aud")
    named = aud if isinstance(aud, list) else [aud]
    exp = claims.get("exp")
    jti = claims.get("jti")
    if (
        claims.get("iss") != client_id
        or claims.get("sub") != client_id
        or not any(audience in named for audience in audiences)
        or not isinstance(exp, int | float)
        or exp + _LEEWAY < moment
        or exp - moment > _MAX_LIFETIME
        or not isinstance(jti, str)
        or not jti
    ):
        raise InvalidClient("client authentication failed")
    key = f"{client_id}:{jti}"
    with _seen_lock:
        for old in [k for k, until in _seen.items() if until < time.time()]:
            del _seen[old]
        if key in _seen:
            raise InvalidClient("client authentication failed")
        _seen[key] = exp + _LEEWAY
