"""Remediation: move a found secret into the vault and leave something that resolves.

The vault side is a seam (:class:`Remediator`): ``limen scan --fix`` plugs in
:class:`VaultRemediator`, tests may plug in any other store. This module owns the file
side, which must leave a project that still runs and must never corrupt or lose a file:

- ``.env`` files keep their name; each secret becomes its ``limen://vault/item/field``
  reference, which ``limen run --env-file .env -- CMD`` resolves into the child's
  environment.
- Structured files (INI, YAML, JSON, TOML) are read by the application itself, which
  cannot resolve a reference. They become templates: ``config.yaml`` moves to
  ``config.yaml.tpl`` with ``{{ limen://… }}`` where the secret was, and ``config.yaml``
  is added to the ``.gitignore`` beside it, so that ``limen inject -i config.yaml.tpl -o
  config.yaml`` renders exactly the original file (mode 0600) when the application needs it.

Every rewrite is checked before anything changes: the secret must sit at the exact line
and column the scanner reported, and the file with the reference in place of the secret
must parse with the format's own parser, hold the reference as a value and no longer
hold the secret. New text goes to a temporary file in the same directory, is flushed and
renamed into place, keeping the original's permissions. No plaintext backup is written:
the secret is in the vault before any file changes, and :func:`undo_patch` restores the
file from the vault, guided by an :class:`AppliedFix` record that holds no secret.

:class:`Reporter` is the seam for handing results to a Limen server.
"""

from __future__ import annotations

import configparser
import difflib
import hashlib
import json
import os
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from limen.discovery.errors import RemediationError
from limen.discovery.findings import Finding, redact
from limen.discovery.inventory import DiscoveredIdentity

if TYPE_CHECKING:
    from limen.audit import Actor
    from limen.vault import VaultService

__all__ = [
    "TEMPLATE_SUFFIX",
    "AppliedFix",
    "FilePatch",
    "Remediator",
    "Reporter",
    "VaultRemediator",
    "apply_patch",
    "file_format",
    "plan_patch",
    "undo_patch",
]

TEMPLATE_SUFFIX: Final = ".tpl"


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
    """The planned rewrite of one file: its old text, the new text and where it goes.

    ``target`` is ``path`` itself for ``.env`` files and ``path`` + ``.tpl`` for
    structured files, whose original is then removed and git-ignored.
    """

    path: Path
    target: Path
    fmt: str
    before: str = field(repr=False)
    after: str = field(repr=False)
    placeholders: tuple[str, ...] = ()
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def is_template(self) -> bool:
        """Whether the file becomes a ``{{ limen://… }}`` template beside the original."""
        return self.target != self.path

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
                tofile=f"{self.target}",
            )
        )


@dataclass(frozen=True, slots=True)
class AppliedFix:
    """What :func:`apply_patch` changed, enough to undo it with the vault; no secret."""

    path: str
    target: str
    mode: int
    after_sha256: str
    placeholders: tuple[str, ...]
    ignored: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AppliedFix:
        """Read back :meth:`to_dict`; raise :class:`RemediationError` if malformed."""
        try:
            return cls(
                path=str(data["path"]),
                target=str(data["target"]),
                mode=int(data["mode"]),
                after_sha256=str(data["after_sha256"]),
                placeholders=tuple(str(p) for p in data["placeholders"]),
                ignored=bool(data.get("ignored", False)),
            )
        except (KeyError, TypeError, ValueError):
            raise RemediationError("the record of an earlier fix is damaged") from None


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
    template = fmt != "env"
    target = path.with_name(path.name + TEMPLATE_SUFFIX) if template else path
    if template and target.exists():
        raise RemediationError(f"{target} exists already; move it away and fix again")
    checked = _replace(path, before, replacements, lambda ref: ref)
    after = _replace(
        path,
        before,
        replacements,
        (lambda ref: f"{{{{ {ref} }}}}") if template else (lambda ref: ref),
    )
    secrets = tuple({f.secret for f, _ in replacements})
    # The check runs on the text as the application will read it once rendered with the
    # reference in place of the value: the structure must survive the substitution.
    _check(path, fmt, before, checked, secrets, [ref for _, ref in replacements])
    placeholders = tuple(
        dict.fromkeys((f"{{{{ {ref} }}}}" if template else ref) for _, ref in replacements)
    )
    return FilePatch(
        path=path,
        target=target,
        fmt=fmt,
        before=before,
        after=after,
        placeholders=placeholders,
        secrets=secrets,
    )


def _replace(
    path: Path,
    text: str,
    replacements: Sequence[tuple[Finding, str]],
    shape: Callable[[str], str],
) -> str:
    lines = text.splitlines(keepends=True)
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
        lines[index] = line[:start] + shape(reference) + line[start + len(finding.secret) :]
    return "".join(lines)


def apply_patch(patch: FilePatch) -> AppliedFix:
    """Write ``patch`` atomically; for a template, remove and git-ignore the original."""
    path = patch.path
    try:
        if path.read_text(encoding="utf-8") != patch.before:
            raise RemediationError(f"{path}: the file changed since it was planned; scan again")
        mode = path.stat().st_mode & 0o7777
        _write_atomic(patch.target, patch.after, mode)
        ignored = False
        if patch.is_template:
            ignored = _ignore(path)
            path.unlink()
    except OSError as exc:
        raise RemediationError(f"{path}: cannot rewrite ({exc.strerror})") from None
    return AppliedFix(
        path=str(path),
        target=str(patch.target),
        mode=mode,
        after_sha256=_sha256(patch.after),
        placeholders=patch.placeholders,
        ignored=ignored,
    )


def undo_patch(applied: AppliedFix, resolve: Callable[[str], str]) -> Path:
    """Put the original file back, each reference resolved by ``resolve``; return its path.

    Refuses (:class:`RemediationError`) when the fixed file changed since the fix: the
    secrets are still in the vault, and ``limen read`` shows each one.
    """
    path, target = Path(applied.path), Path(applied.target)
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RemediationError(f"{target}: cannot read ({exc.__class__.__name__})") from None
    if _sha256(text) != applied.after_sha256:
        raise RemediationError(
            f"{target}: changed since the fix; restore it by hand (`limen read` each reference)"
        )
    for placeholder in sorted(applied.placeholders, key=len, reverse=True):
        reference = placeholder.removeprefix("{{ ").removesuffix(" }}")
        text = text.replace(placeholder, resolve(reference))
    # A copy rendered by `limen inject` is the same text; anything else is someone's work.
    if target != path and os.path.lexists(path) and _read(path) != text:
        raise RemediationError(f"{path}: exists again and differs; move it away to undo the fix")
    try:
        _write_atomic(path, text, applied.mode)
        if target != path:
            target.unlink()
            if applied.ignored:
                _unignore(path)
    except OSError as exc:
        raise RemediationError(f"{path}: cannot restore ({exc.strerror})") from None
    return path


def _write_atomic(path: Path, text: str, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _ignore_line(path: Path) -> str:
    # Anchored to the .gitignore's own directory, so only this file is ignored.
    return "/" + path.name.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def _ignore(path: Path) -> bool:
    """Add ``path`` to the .gitignore beside it; False if it was listed already."""
    ignore = path.parent / ".gitignore"
    line = _ignore_line(path)
    try:
        existing = ignore.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = ""
    if line in existing.splitlines():
        return False
    separator = "" if not existing or existing.endswith("\n") else "\n"
    with open(ignore, "a", encoding="utf-8") as handle:
        handle.write(f"{separator}{line}\n")
    return True


def _unignore(path: Path) -> None:
    ignore = path.parent / ".gitignore"
    try:
        lines = ignore.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        return
    line = _ignore_line(path)
    kept = [raw for raw in lines if raw.rstrip("\n") != line]
    if not "".join(kept).strip():
        ignore.unlink()
    else:
        ignore.write_text("".join(kept), encoding="utf-8")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VaultRemediator:
    """Stores each distinct secret once, as an ``API_CREDENTIAL`` item in one vault."""

    FIELD: Final = "credential"

    def __init__(self, service: VaultService, actor: Actor, vault: str) -> None:
        from limen.vault import VaultNotFound

        self._actor = actor
        self._service = service
        self.vault = vault
        try:
            service.get_vault(actor, vault)
        except VaultNotFound:
            service.create_vault(
                actor, vault, description="Secrets moved here by `limen scan --fix`."
            )

    @staticmethod
    def title(finding: Finding) -> str:
        """The item title: the rule and a fingerprint prefix, unique per secret."""
        return f"{finding.rule_id}-{finding.fingerprint[:12]}"

    @classmethod
    def reference(cls, vault: str, finding: Finding) -> str:
        """The ``limen://`` reference the finding's secret is stored under."""
        from limen.vault import Reference

        return str(Reference(vault=vault, item=cls.title(finding), field=cls.FIELD))

    def store(self, finding: Finding) -> str:
        """Create the item unless it exists; return the reference either way."""
        from limen.vault import Field, ItemDraft, new_field_id

        title = self.title(finding)
        # A listing, not get_item: checking that the item exists must not decrypt it and
        # record a secret read.
        if not self._service.list_items(self._actor, self.vault, title=title):
            draft = ItemDraft(
                title=title,
                category="API_CREDENTIAL",
                tags=["limen-scan", finding.provider],
                fields=[
                    Field(
                        id=new_field_id(),
                        type="CONCEALED",
                        label=self.FIELD,
                        value=finding.secret,
                    )
                ],
            )
            self._service.create_item(self._actor, self.vault, draft)
        return self.reference(self.vault, finding)

    def resolve(self, reference: str) -> str:
        """The secret a reference points at (recorded as a ``vault.secret.read``)."""
        return self._service.resolve(self._actor, reference, purpose="undo-fix").value


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
