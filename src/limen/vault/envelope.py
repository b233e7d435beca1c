"""Envelope encryption recipes: ``seal``, ``open`` and ``rewrap``.

Each plaintext gets its own random AES-256-GCM data key; the data key is wrapped by the
key-encryption key (KEK). The associated data binds a ciphertext to its place (item id
and version), so a row copied onto another item fails to open. Rotating the KEK
re-wraps data keys and never touches the ciphertext.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from limen.vault import _aead
from limen.vault._kek import Kek
from limen.vault.errors import SealBroken

__all__ = ["Sealed", "open", "rewrap", "seal"]


@dataclass(frozen=True, slots=True)
class Sealed:
    """A ciphertext, its wrapped data key, and the id of the KEK that wrapped it."""

    ciphertext: bytes = field(repr=False)
    wrapped_key: bytes = field(repr=False)
    kek_id: str


def seal(kek: Kek, plaintext: bytes, *, aad: bytes) -> Sealed:
    data_key = _aead.new_key()
    return Sealed(
        ciphertext=_aead.encrypt(data_key, plaintext, aad),
        wrapped_key=kek.wrap(data_key, aad),
        kek_id=kek.kid,
    )


def open(kek: Kek, sealed: Sealed, *, aad: bytes) -> bytes:
    """Decrypt; raise :class:`SealBroken` if anything was altered.

    The caller checks ``sealed.kek_id`` against the KEK first, so a failure here means
    the stored bytes, not the key, are wrong.
    """
    try:
        data_key = kek.unwrap(sealed.wrapped_key, aad)
        return _aead.decrypt(data_key, sealed.ciphertext, aad)
    except _aead.AuthenticationFailed:
        raise SealBroken("stored secret data failed its integrity check") from None


def rewrap(sealed: Sealed, *, aad: bytes, old: Kek, new: Kek) -> Sealed:
    """The same ciphertext with its data key wrapped under ``new`` instead of ``old``."""
    try:
        data_key = old.unwrap(sealed.wrapped_key, aad)
    except _aead.AuthenticationFailed:
        raise SealBroken("a stored data key failed its integrity check") from None
    return Sealed(sealed.ciphertext, new.wrap(data_key, aad), new.kid)
