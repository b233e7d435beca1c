"""A signed checkpoint as stored and exported, the check of its signature, and the
checkpoint files kept outside the database.

Free of SQLAlchemy (``from_row`` takes any row with the columns' attributes), so that a
command checking the installation's key before it appends an event (``limen read``)
uses the same check, and a command talking to a server exports and reads checkpoint
files without the database layer; writing and listing checkpoints in the database is in
:mod:`limen.audit.checkpoints`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from limen.audit.errors import InvalidCheckpoint

__all__ = ["FORMAT", "SignedCheckpoint", "export_checkpoints", "load_checkpoints"]

FORMAT = "limen-audit-checkpoint-v1"


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint as stored and as exported; ``payload`` is what the signature covers."""

    id: str
    position: int
    event_id: str
    link: str
    created_at: str
    public_key: str
    signature: str

    @property
    def payload(self) -> bytes:
        body = {
            "format": FORMAT,
            "position": self.position,
            "event_id": self.event_id,
            "link": self.link,
            "created_at": self.created_at,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def is_signed_by(self, public_key: str) -> bool:
        """True if the signature verifies under ``public_key`` (the installation's key)."""
        if self.public_key != public_key:
            return False
        try:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
            key.verify(base64.b64decode(self.signature), self.payload)
        except (InvalidSignature, ValueError):
            return False
        return True

    @property
    def link_bytes(self) -> bytes:
        return bytes.fromhex(self.link)

    def to_document(self) -> dict[str, object]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_document(cls, document: dict[str, object]) -> SignedCheckpoint:
        """A checkpoint as :meth:`to_document` wrote it; :class:`InvalidCheckpoint` if
        it is not one (its signature is checked where it is used)."""
        try:
            if document.get("format") != FORMAT:
                raise ValueError
            return cls(
                id=str(document["id"]),
                position=int(document["position"]),  # type: ignore[call-overload]
                event_id=str(document["event_id"]),
                link=str(document["link"]),
                created_at=str(document["created_at"]),
                public_key=str(document["public_key"]),
                signature=str(document["signature"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidCheckpoint("not a Limen audit checkpoint") from None

    @classmethod
    def from_row(cls, row: Any) -> SignedCheckpoint:
        return cls(
            id=row.id,
            position=row.position,
            event_id=row.event_id,
            link=row.link,
            created_at=_text_time(row.created_at),
            public_key=row.public_key,
            signature=row.signature,
        )


def _text_time(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def export_checkpoints(checkpoints: Iterable[SignedCheckpoint], directory: Path) -> list[Path]:
    """Write each checkpoint as ``checkpoint-<position>.json`` unless already there."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for checkpoint in checkpoints:
        path = directory / f"checkpoint-{checkpoint.position:012d}-{checkpoint.id}.json"
        if path.exists():
            continue
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(checkpoint.to_document(), indent=2) + "\n")
        tmp.replace(path)
        written.append(path)
    return written


def load_checkpoints(directory: Path) -> Sequence[SignedCheckpoint]:
    """Read every checkpoint file in ``directory``; a malformed one is an error."""
    if not directory.is_dir():
        raise InvalidCheckpoint(f"{directory} is not a directory of checkpoints")
    found = []
    for path in sorted(directory.glob("checkpoint-*.json")):
        try:
            document = json.loads(path.read_text())
            if not isinstance(document, dict):
                raise ValueError
            found.append(SignedCheckpoint.from_document(document))
        except (OSError, ValueError, InvalidCheckpoint):
            raise InvalidCheckpoint(f"{path.name} is not a Limen audit checkpoint") from None
    return found
