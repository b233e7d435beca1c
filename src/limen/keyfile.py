"""The installation's root key file: 32 random bytes, readable by the owner only.

The key never enters the database. Packages derive their own keys from it (HKDF with a
label of their own), so the vault's key-encryption key and the audit chain key differ.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from limen.errors import InvalidInput, Unavailable

__all__ = ["KEY_BYTES", "RESTORE_HINT", "create_key_file", "derive_key", "read_key_file"]

KEY_BYTES = 32


def create_key_file(path: Path) -> bool:
    """Write a new key file with mode 0600 unless one exists. Returns True if it wrote one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    encoded = base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n"
    try:
        # O_EXCL: two processes initialising at once must not overwrite each other's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(encoded)
    return True


RESTORE_HINT: Final = "see 'Back up and restore' in the README"


def read_key_file(path: Path) -> bytes:
    """Read the root key; clear errors for a missing, unreadable or malformed file.

    A missing key is never replaced by a new one here or anywhere else: what the old key
    sealed and signed would then read as tampered with. The errors say to restore it.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise Unavailable(
            f"key file {path} does not exist: restore it from your backup, or point "
            f"LIMEN_KEY_FILE at it ({RESTORE_HINT})"
        ) from None
    except OSError as exc:
        raise Unavailable(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        key = base64.b64decode(data.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise InvalidInput(
            f"key file {path} is not a Limen key file (32 bytes, base64): restore it from "
            f"your backup ({RESTORE_HINT})"
        )
    return key


def derive_key(root: bytes, label: str, *, length: int = 32) -> bytes:
    """A key for one purpose, derived from the root key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=label.encode()).derive(
        root
    )
