"""AES-256-GCM with random 96-bit nonces: the only place in Limen that touches a nonce.

The stored form is ``nonce || ciphertext || tag``. A fresh random nonce per message is
safe for AES-GCM as long as one key seals far fewer than 2**32 messages; every data key
here seals exactly one plaintext, and a KEK wraps one data key per item version.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16


class AuthenticationFailed(Exception):
    """The ciphertext, its associated data or the key does not match (tampered or wrong key)."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def encrypt(key: bytes | AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    cipher = key if isinstance(key, AESGCM) else AESGCM(key)
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + cipher.encrypt(nonce, plaintext, aad)


def decrypt(key: bytes | AESGCM, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < _NONCE_BYTES + _TAG_BYTES:
        raise AuthenticationFailed
    cipher = key if isinstance(key, AESGCM) else AESGCM(key)
    try:
        return cipher.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
    except InvalidTag:
        # One outward error whatever failed (key, nonce, tag, associated data): no oracle.
        raise AuthenticationFailed from None
