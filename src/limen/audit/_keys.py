"""The audit trail's two keys, both derived from the installation's root key file.

The chain key (HMAC-SHA256) and the checkpoint signing key (Ed25519) never enter the
database: someone who can rewrite the database still cannot forge links or checkpoints.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from limen.audit.errors import AuditKeyUnavailable
from limen.errors import LimenError
from limen.keyfile import derive_key, read_key_file

if TYPE_CHECKING:
    from limen.store import Database

__all__ = ["AuditKeys", "public_key_text"]

CHAIN_LABEL = "limen audit chain v1"
SEAL_LABEL = "limen audit seal v1"
CHECKPOINT_LABEL = "limen audit checkpoint v1"
SINK_LABEL = "limen audit sink v1 "


@dataclass(frozen=True, slots=True)
class AuditKeys:
    """``chain`` keys the HMAC links; ``seal`` seals each row Limen writes; ``signing``
    signs checkpoints."""

    chain: bytes
    seal: bytes
    signing: Ed25519PrivateKey
    _root: bytes

    @classmethod
    def from_root(cls, root: bytes) -> AuditKeys:
        return cls(
            chain=derive_key(root, CHAIN_LABEL),
            seal=derive_key(root, SEAL_LABEL),
            signing=Ed25519PrivateKey.from_private_bytes(derive_key(root, CHECKPOINT_LABEL)),
            _root=root,
        )

    @classmethod
    def from_key_file(cls, path: Path) -> AuditKeys:
        try:
            return cls.from_root(read_key_file(path))
        except LimenError as exc:
            raise AuditKeyUnavailable(f"the audit trail needs the key file: {exc.detail}") from None

    @property
    def public_key(self) -> str:
        return public_key_text(self.signing)

    def attach(self, db: Database) -> None:
        """Let ``db`` seal the event rows it writes (the key stays in memory only)."""
        db.event_seal_key = self.seal

    def sink_secret(self, sink_id: str) -> bytes:
        """The HMAC secret a webhook sink signs with: derived, so never stored."""
        return derive_key(self._root, SINK_LABEL + sink_id)

    def __repr__(self) -> str:  # keys never reach a log through a repr
        return f"AuditKeys(public_key={self.public_key!r})"


def public_key_text(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode("ascii")
