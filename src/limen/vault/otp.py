"""One-time passwords for ``OTP`` fields: RFC 6238 TOTP codes from an ``otpauth://`` URI.

https://www.rfc-editor.org/rfc/rfc6238 — the field value is the secret (or the whole
``otpauth://totp/...?secret=...`` URI); Connect returns the current code as ``totp``.
"""

from __future__ import annotations

import base64
import time
from datetime import datetime
from urllib.parse import parse_qs, urlparse

from cryptography.hazmat.primitives.hashes import SHA1, SHA256, SHA512
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

__all__ = ["totp_code"]

_HASHES = {"SHA1": SHA1, "SHA256": SHA256, "SHA512": SHA512}


def totp_code(value: str | None, *, now: datetime | None = None) -> str | None:
    """The current code for ``value``, or ``None`` if it is not a usable TOTP secret."""
    if not value:
        return None
    secret, digits, period, algorithm = value.strip(), 6, 30, "SHA1"
    if secret.lower().startswith("otpauth://"):
        parsed = urlparse(secret)
        query = {k.lower(): v[0] for k, v in parse_qs(parsed.query).items()}
        secret = query.get("secret", "")
        try:
            digits = int(query.get("digits", 6))
            period = int(query.get("period", 30))
        except ValueError:
            return None
        algorithm = query.get("algorithm", "SHA1").upper()
    if algorithm not in _HASHES or digits not in (6, 7, 8) or period <= 0:
        return None
    try:
        compact = secret.replace(" ", "").upper()
        key = base64.b32decode(compact + "=" * (-len(compact) % 8))
        generator = TOTP(key, digits, _HASHES[algorithm](), period, enforce_key_length=False)
    except (ValueError, InvalidToken):
        return None
    moment = now.timestamp() if now else time.time()
    return generator.generate(int(moment)).decode()
