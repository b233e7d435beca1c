"""Receivers' push credentials, sealed at rest.

A receiver's ``authorization_header`` is a credential Limen must send back verbatim, so
it cannot be hashed. It is sealed with AES-256-GCM under a key derived from the
installation's root key file (``limen ssf receiver credentials v1``), with the stream id
as associated data so a sealed header copied onto another stream does not open. A
database dump alone therefore never yields a receiver's credential.
"""

from __future__ import annotations

import base64
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from limen.errors import Unavailable
from limen.keyfile import derive_key

__all__ = ["HeaderSealer"]

_LABEL: Final = "limen ssf receiver credentials v1"
_PREFIX: Final = "v1."
_NONCE: Final = 12


class HeaderSealer:
    def __init__(self, root_key: bytes) -> None:
        self._aead = AESGCM(derive_key(root_key, _LABEL))

    def seal(self, stream_id: str, header: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, header.encode("utf-8"), stream_id.encode())
        return _PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii")

    def open(self, stream_id: str, stored: str) -> str:
        try:
            if not stored.startswith(_PREFIX):
                raise ValueError
            raw = base64.urlsafe_b64decode(stored[len(_PREFIX) :])
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], stream_id.encode())
        except (InvalidTag, ValueError):
            # Never the value, never why: only that this root key does not open it.
            raise Unavailable(
                f"the push credential of stream {stream_id} does not open with this root key"
            ) from None
        return plain.decode("utf-8")
