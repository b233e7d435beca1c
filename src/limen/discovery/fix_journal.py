"""The record of each ``limen scan --fix``, so ``limen scan --undo-fix`` can reverse it.

One JSON file per fix under ``<data dir>/scan-fixes/``, holding for every file changed
its path, the file written, its mode, a digest of the text written and the placeholders
put in place of secrets. No secret is written: undoing a fix reads each one back from
the vault, so the vault's version history is the only copy besides the live systems.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from limen.discovery.errors import RemediationError
from limen.discovery.remediation import AppliedFix

__all__ = ["FixJournal", "FixRecord"]

_FOLDER: Final = "scan-fixes"


@dataclass(frozen=True, slots=True)
class FixRecord:
    """One ``--fix`` run: when, which vault, and what it changed."""

    id: str
    created_at: str
    vault: str
    files: tuple[AppliedFix, ...]


class FixJournal:
    """The fixes recorded in one data directory, newest last."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = Path(data_dir) / _FOLDER

    def record(self, vault: str, files: Sequence[AppliedFix]) -> FixRecord:
        """Write a record of ``files``; private to the owner, like the rest of the data dir."""
        now = datetime.now(UTC)
        record = FixRecord(
            id=f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}",
            created_at=now.isoformat(timespec="seconds"),
            vault=vault,
            files=tuple(files),
        )
        document = {
            "id": record.id,
            "created_at": record.created_at,
            "vault": vault,
            "files": [f.to_dict() for f in files],
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.folder / f"{record.id}.json", os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2)
        except OSError as exc:
            raise RemediationError(
                f"cannot record the fix in {self.folder} ({exc.strerror}); "
                "the files were fixed, their secrets are in the vault"
            ) from None
        return record

    def latest(self) -> FixRecord | None:
        """The most recent fix not undone yet, or None."""
        try:
            names = sorted(p for p in self.folder.glob("*.json"))
        except OSError:
            return None
        if not names:
            return None
        path = names[-1]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return FixRecord(
                id=str(data["id"]),
                created_at=str(data["created_at"]),
                vault=str(data["vault"]),
                files=tuple(AppliedFix.from_dict(f) for f in data["files"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            raise RemediationError(f"{path}: the record of an earlier fix is damaged") from None

    def forget(self, record: FixRecord) -> None:
        """Drop a record once its fix is undone."""
        (self.folder / f"{record.id}.json").unlink(missing_ok=True)
