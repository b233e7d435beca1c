"""Verify a client's signed assertion (RFC 7523 §3) with joserfc against its registered keys.

https://www.rfc-editor.org/rfc/rfc7523#section-3
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from limen.tokens.errors import InvalidClient, InvalidRequest
from limen.tokens.keys import b64url_decode

if TYPE_CHECKING:
    from limen.store import Database

__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "UsedAssertions",
    "assertion_subject",
    "validate_client_jwks",
    "verify_client_assertion",
]

CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ALGORITHMS: Final = ["EdDSA", "ES256", "ES384", "PS256", "RS256"]
_MAX_LIFETIME: Final = 3600  # Authlib and others default to an hour
_LEEWAY: Final = 30

# Expired ids are deleted at most this often by each node: a row outlives its assertion
# by at most this long, and the table stays as small as an hour's assertions.
_PRUNE_EVERY: Final = 60.0


class UsedAssertions:
    """Assertion ids already used, in the database (RFC 7523 §3 item 7: a ``jti`` is
    used once), so that every node and worker sharing it refuses a replay."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._pruned_at = 0.0

    def use(self, client_id: str, jti: str, *, until: datetime) -> bool:
        """Record this use of ``jti`` until ``until``; ``False`` if it was used before."""
        from limen.store.models import AssertionJti

        self._prune()
        return self._db.insert_new(
            AssertionJti.__table__,
            {
                "client_id": client_id,
                "jti_digest": hashlib.sha256(jti.encode()).hexdigest(),
                "expires_at": until,
            },
        )

    def _prune(self) -> None:
        from limen.store.models import AssertionJti

        with self._lock:
            if time.monotonic() - self._pruned_at < _PRUNE_EVERY:
                return
            self._pruned_at = time.monotonic()
        self._db.delete_before(AssertionJti.__table__.c.expires_at, datetime.now(UTC))


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
    used: UsedAssertions,
) -> None:
    """Check signature, ``iss``/``sub``, ``aud``, ``exp`` and one-time ``jti`` (recorded
    in ``used`` once everything else holds, so a forged assertion spends no id).

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
    until = datetime.fromtimestamp(exp + _LEEWAY, UTC)
    if not used.use(client_id, jti, until=until):
        error = InvalidClient("client authentication failed")
        error.reason = "assertion replayed"  # type: ignore[attr-defined]
        raise error
