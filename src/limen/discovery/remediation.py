"""Remediation: move a found secret into the vault and leave a reference in its place.

The vault side is a seam (:class:`Remediator`): the CLI plugs in the vault service, tests
plug in an in-memory store. This module owns the file side, which must never corrupt or
lose a file:

1. the secret is replaced by its ``limen://vault/item/field`` reference at the exact line
   and column the scanner reported, leaving every other byte as it was;
2. the new text is parsed with the format's own parser (``.env``, INI, YAML, JSON, TOML)
   and must parse, must contain the reference and must no longer contain the secret;
3. a backup (``<file>.limen-bak``) is written, then the new text goes to a temporary file
   in the same directory, is flushed to disk and atomically renamed over the original,
   keeping its permissions.

Any check that fails leaves the file untouched and raises :class:`RemediationError`.
:class:`Reporter` is the seam for handing results to a Limen server.
"""

from __future__ import annotations

import configparser
import difflib
import json
import os
import shutil
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from limen.discovery.errors import RemediationError
from limen.discovery.findings import Finding, redact
from limen.discovery.inventory import DiscoveredIdentity

__all__ = [
    "BACKUP_SUFFIX",
    "FilePatch",
    "Remediator",
    "Reporter",
    "apply_patch",
    "file_format",
    "plan_patch",
]

BACKUP_SUFFIX: Final = ".limen-bak"


class Remediator(Protocol):
    """Stores a found secret somewhere safe and returns the reference that replaces it."""

    def store(self, finding: Finding) -> str:
        """Store ``finding.secret``; return a ``limen://vault/item/field`` reference."""
        ...


class Reporter(Protocol):
    """Hands findings and discovered identities to a Limen server."""

    def report(self, findings: Sequence[Finding], identities: Sequence[DiscoveredIdentity]) -> None:
        """Send one scan's results; raise a :class:`~limen.errors.LimenError` on failure."""
        ...


def file_format(path: str | Path) -> str | None:
    """The configuration format ``--fix`` can rewrite for ``path``, or None."""
    name = Path(path).name.lower()
    if name.startswith(".env") or name.endswith(".env"):
        return "env"
    suffix = Path(name).suffix
    return {
        ".ini": "ini",
        ".cfg": "ini",
        ".conf": "ini",
        ".yaml": "yaml",
        ".yml": "yaml",
        ".json": "json",
        ".toml": "toml",
    }.get(suffix)


@dataclass(frozen=True, slots=True)
class FilePatch:
    """The planned rewrite of one file: its old and new text and what was replaced."""

    path: Path
    fmt: str
    before: str = field(repr=False)
    after: str = field(repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def diff(self, *, show_secrets: bool = False) -> str:
        """A unified diff; the replaced secrets are redacted unless asked."""
        before, after = self.before, self.after
        if not show_secrets:
            for secret in self.secrets:
                before = before.replace(secret, redact(secret))
        return "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=f"{self.path}",
                tofile=f"{self.path} (fixed)",
            )
        )


def plan_patch(path: Path, replacements: Sequence[tuple[Finding, str]]) -> FilePatch:
    """Plan replacing each finding's secret in ``path`` by its reference.

    Raises :class:`RemediationError` when the format is not supported, the secret is not
    where the scan saw it, or the rewritten file would not parse.
    """
    fmt = file_format(path)
    if fmt is None:
        raise RemediationError(f"{path}: cannot rewrite this kind of file; move it by hand")
    try:
        before = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RemediationError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    lines = before.splitlines(keepends=True)
    # Right to left within a line, so earlier columns stay valid.
    ordered = sorted(replacements, key=lambda r: (r[0].line, r[0].column), reverse=True)
    for finding, reference in ordered:
        index = finding.line - 1
        start = finding.column - 1
        if index >= len(lines) or lines[index][start : start + len(finding.secret)] != (
            finding.secret
        ):
            raise RemediationError(
                f"{path}:{finding.line}: the file changed since the scan; scan again"
            )
        line = lines[index]
        lines[index] = line[:start] + reference + line[start + len(finding.secret) :]
    after = "".join(lines)
    secrets = tuple({f.secret for f, _ in replacements})
    _check(path, fmt, before, after, secrets, [ref for _, ref in replacements])
    return FilePatch(path=path, fmt=fmt, before=before, after=after, secrets=secrets)


def apply_patch(patch: FilePatch) -> Path:
    """Write ``patch`` atomically after backing the original up; return the backup path."""
    path = patch.path
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    try:
        if path.read_text(encoding="utf-8") != patch.before:
            raise RemediationError(f"{path}: the file changed since it was planned; scan again")
        shutil.copy2(path, backup)
        mode = path.stat().st_mode & 0o7777
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(patch.after)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise RemediationError(f"{path}: cannot rewrite ({exc.strerror})") from None
    # The backup holds the secret: keep it as private as the original, or more.
    os.chmod(backup, 0o600)
    return backup


def _check(
    path: Path,
    fmt: str,
    before: str,
    after: str,
    secrets: Sequence[str],
    references: Sequence[str],
) -> None:
    if any(secret in after for secret in secrets):
        raise RemediationError(f"{path}: the secret appears elsewhere in the file too")
    before_ok = _parses(fmt, before) is not None
    parsed = _parses(fmt, after)
    if parsed is None:
        if before_ok:
            raise RemediationError(f"{path}: the rewritten file would not parse as {fmt}")
        return  # it did not parse before either; the textual check above must do
    flat = parsed if isinstance(parsed, str) else json.dumps(parsed, default=str)
    for reference in references:
        if reference not in flat:
            raise RemediationError(
                f"{path}: after rewriting, the reference is not a value of the {fmt} file"
            )


def _parses(fmt: str, text: str) -> object | None:
    """The parsed document, or None when ``text`` is not valid ``fmt``."""
    try:
        if fmt == "json":
            return json.loads(text)
        if fmt == "toml":
            return tomllib.loads(text)
        if fmt == "yaml":
            import yaml

            return yaml.safe_load(text)
        if fmt == "ini":
            parser = configparser.ConfigParser(interpolation=None, strict=False)
            parser.read_string(text)
            return {s: dict(parser[s]) for s in parser.sections()} | {
                "DEFAULT": dict(parser.defaults())
            }
        if fmt == "env":
            return _parse_env(text)
    except Exception:  # every parser has its own error types; any failure means "no"
        return None
    return None


def _parse_env(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError("not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values
