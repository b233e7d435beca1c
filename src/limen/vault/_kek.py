"""Key-encryption keys: where they come from and how they wrap data keys.

A KEK comes either from key material on disk (derived from the installation's root key
file with HKDF, or a vault key file written by a rotation) or from a passphrase through
Argon2id. Its *key id* is an HKDF fingerprint: stored next to every wrapped data key, it
tells a wrong key from tampered data without revealing anything about the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from limen import keyfile
from limen.keyfile import derive_key
from limen.vault import _aead

ROOT_LABEL: Final = "limen vault kek v1"
_KID_LABEL: Final = "limen vault kek id"
_WRAP_PREFIX: Final = b"limen-vault dek\x00"

# RFC 9106 §4 second recommended option (64 MiB, t=3, p=4), with p=1 because the
# server derives once per start and 2-core hosts are common. The parameters are stored
# with the salt, so changing these defaults never strands existing data.
ARGON2_DEFAULTS: Final[dict[str, int]] = {"time_cost": 3, "memory_cost": 65536, "parallelism": 1}
SALT_BYTES: Final = 16


@dataclass(frozen=True, slots=True)
class Kek:
    """One key-encryption key. ``kid`` is safe to store and show; the key is not."""

    kid: str
    _cipher: AESGCM = field(repr=False)

    @classmethod
    def from_bytes(cls, key: bytes) -> Kek:
        return cls(kid=key_id(key), _cipher=AESGCM(key))

    def wrap(self, data_key: bytes, aad: bytes) -> bytes:
        return _aead.encrypt(self._cipher, data_key, _WRAP_PREFIX + aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return _aead.decrypt(self._cipher, wrapped, _WRAP_PREFIX + aad)


def key_id(key: bytes) -> str:
    return derive_key(key, _KID_LABEL, length=8).hex()


def from_root_key(root: bytes) -> Kek:
    return Kek.from_bytes(derive_key(root, ROOT_LABEL))


def from_passphrase(passphrase: str, salt: bytes, params: dict[str, Any]) -> Kek:
    # Imported here: a command reading with the key file never loads Argon2.
    from argon2.low_level import Type, hash_secret_raw

    key = hash_secret_raw(
        passphrase.encode("utf-8"),
        salt,
        time_cost=int(params["time_cost"]),
        memory_cost=int(params["memory_cost"]),
        parallelism=int(params["parallelism"]),
        hash_len=_aead.KEY_BYTES,
        type=Type.ID,
    )
    return Kek.from_bytes(key)


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


VAULT_KEY_FILE_NAME: Final = "vault-kek.key"


@dataclass(frozen=True, slots=True)
class KeyFileSource:
    """The KEK from key files: ``vault-kek.key`` if a rotation wrote one, else the root key."""

    root_key_file: Path

    @property
    def vault_key_file(self) -> Path:
        return self.root_key_file.parent / VAULT_KEY_FILE_NAME

    @property
    def pending_key_file(self) -> Path:
        return self.root_key_file.parent / (VAULT_KEY_FILE_NAME + ".next")

    def load(self) -> Kek:
        if self.vault_key_file.exists():
            return Kek.from_bytes(keyfile.read_key_file(self.vault_key_file))
        return from_root_key(keyfile.read_key_file(self.root_key_file))


@dataclass(frozen=True, slots=True)
class PassphraseSource:
    """The KEK from a passphrase (Argon2id with the salt recorded in the database)."""

    passphrase: str

    def __repr__(self) -> str:  # the passphrase must never reach a log through a repr
        return "PassphraseSource(passphrase='**********')"


KekSource = KeyFileSource | PassphraseSource


def item_aad(item_id: str, version: int) -> bytes:
    return f"limen-vault item {item_id} v{version}".encode()


def file_aad(file_id: str) -> bytes:
    return f"limen-vault file {file_id}".encode()
