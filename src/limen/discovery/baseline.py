"""Baseline files: findings someone has reviewed and accepted, so they stop failing CI.

A baseline entry names the rule, the path and a fingerprint of the secret keyed with a
random salt stored in the same file. Line numbers are left out on purpose, so editing
other parts of a file does not resurrect accepted findings; the salt keeps the file
portable between machines (unlike the per-installation inventory key) while making a
committed baseline useless as a dictionary of unsalted hashes.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from limen.discovery.errors import BaselineError
from limen.discovery.findings import Finding, fingerprint

__all__ = ["Baseline"]

_VERSION = 1


@dataclass(frozen=True, slots=True)
class Baseline:
    """Accepted findings, as (rule id, path, salted fingerprint) triples."""

    salt: bytes
    entries: frozenset[tuple[str, str, str]]

    @classmethod
    def empty(cls) -> Baseline:
        """A baseline with a fresh salt and no entries."""
        return cls(salt=secrets.token_bytes(16), entries=frozenset())

    @classmethod
    def load(cls, path: Path) -> Baseline:
        """Read a baseline file; raise :class:`BaselineError` if it is not one."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("version") != _VERSION:
                raise ValueError("unknown version")
            salt = bytes.fromhex(data["salt"])
            entries = frozenset(
                (str(e["rule_id"]), str(e["path"]), str(e["fingerprint"])) for e in data["findings"]
            )
        except OSError as exc:
            raise BaselineError(f"cannot read baseline {path}: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BaselineError(f"{path} is not a Limen baseline file") from None
        return cls(salt=salt, entries=entries)

    def _key(self, finding: Finding) -> tuple[str, str, str]:
        return (finding.rule_id, finding.path, fingerprint(finding.secret, key=self.salt))

    def accepts(self, finding: Finding) -> bool:
        """Tell whether ``finding`` was accepted in this baseline."""
        return self._key(finding) in self.entries

    def filter(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings this baseline does not accept."""
        return [f for f in findings if not self.accepts(f)]

    def with_findings(self, findings: Sequence[Finding]) -> Baseline:
        """A baseline accepting ``findings`` as well, under the same salt."""
        return Baseline(salt=self.salt, entries=self.entries | {self._key(f) for f in findings})

    def save(self, path: Path) -> None:
        """Write atomically: a crash leaves the old baseline or the new one, never half."""
        document = {
            "version": _VERSION,
            "tool": "limen",
            "salt": self.salt.hex(),
            "findings": [
                {"rule_id": r, "path": p, "fingerprint": f} for r, p, f in sorted(self.entries)
            ],
        }
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2)
                handle.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
