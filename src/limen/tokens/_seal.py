"""AES-256-GCM sealing of private signing keys under a key derived from the root key.

The kid is the associated data, so a sealed key copied onto another row does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from limen.keyfile import derive_key
from limen.tokens.errors import SigningUnavailable

SIGNING_KEY_LABEL = "limen token signing v1"
_NONCE = 12


def wrapping_key(root: bytes) -> bytes:
    return derive_key(root, SIGNING_KEY_LABEL)


def seal(key: bytes, plaintext: bytes, *, aad: str) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode())


def unseal(key: bytes, sealed: bytes, *, aad: str) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad.encode())
    except (InvalidTag, ValueError):
        # Says which key, never why: the reason is always "not the root key it was sealed with".
        raise SigningUnavailable(
            f"signing key {aad} does not open with this root key; is LIMEN_KEY_FILE the "
            "installation's key file?"
        ) from None
