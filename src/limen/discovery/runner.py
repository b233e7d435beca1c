"""One whole scan: ``run(ScanOptions) -> ScanOutcome``.

Everything ``limen scan`` does between parsing its options and printing the outcome:
load the rules, load or compile the engine (cached on disk by the rule set's digest),
choose the sources, scan, apply the baseline, build the inventory, report it to a
server, move secrets into the vault (``--fix``) or put them back (``--undo-fix``).
The CLI only renders what comes back, so the same scan can run from anywhere.

Errors are Limen errors: bad options are :class:`~limen.errors.InvalidInput`, a file
named on the command line that cannot be read or written becomes a
:class:`~limen.discovery.errors.ScanError` naming it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from limen.discovery.engine import Engine
from limen.discovery.errors import ScanError
from limen.discovery.findings import Finding
from limen.discovery.inventory import DiscoveredIdentity, build_inventory
from limen.discovery.ruleset import Rule, load_rules
from limen.discovery.scanner import Progress, Scanner, ScanResult
from limen.discovery.sources.base import ScanSource
from limen.errors import InvalidInput

# Baselines, fixes and reports are imported where they are used: a plain scan (a
# pre-commit hook) should not pay for them.
if TYPE_CHECKING:
    from limen.audit import Actor
    from limen.discovery.remediation import AppliedFix, FilePatch
    from limen.vault import VaultService

    OpenVault = Callable[[], tuple[VaultService, Actor]]

__all__ = [
    "FixOptions",
    "FixOutcome",
    "ReportOptions",
    "ScanOptions",
    "ScanOutcome",
    "default_cache_dir",
    "default_data_dir",
    "run",
    "undo_fix",
]

_KEY_FILE: Final = "scan-fingerprint.key"

FixStatus = Literal["planned", "fixed", "declined", "refused"]


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """Where ``--report`` sends the inventory, and who this machine is."""

    server: str
    token: str
    origin: str | None = None
    machine: str | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class FixOptions:
    """How ``--fix`` moves secrets into the vault.

    ``open_vault`` is called once, only when a file is about to change, so a dry run
    never opens the database. ``confirm`` is asked per file (after ``show``); ``None``
    applies without asking.
    """

    vault: str = "discovered"
    dry_run: bool = False
    open_vault: OpenVault | None = None
    confirm: Callable[[FilePatch], bool] | None = None


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What to scan and what to do with the findings; defaults are ``limen scan``'s."""

    paths: tuple[Path, ...] = ()
    git: bool = False
    staged: bool = False
    endpoint: bool = False
    browsers: bool = True
    no_ignore: bool = False
    max_size: int = 10 * 1000 * 1000
    baseline: Path | None = None
    write_baseline: Path | None = None
    rule_files: tuple[Path, ...] = ()
    jobs: int | None = None
    data_dir: Path | None = None
    cache_dir: Path | None = None
    home: Path | None = None
    report: ReportOptions | None = None
    fix: FixOptions | None = None
    progress: Progress | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class FixOutcome:
    """What ``--fix`` did (or would do) to one file."""

    path: str
    status: FixStatus
    detail: str = ""
    target: str | None = None
    patch: FilePatch | None = field(default=None, repr=False)


@dataclass(slots=True)
class ScanOutcome:
    """Everything one scan produced, ready to render."""

    result: ScanResult
    findings: list[Finding]
    identities: list[DiscoveredIdentity]
    rules: tuple[Rule, ...]
    fixes: list[FixOutcome] = field(default_factory=list)
    fix_id: str | None = None
    report: dict[str, object] | None = None

    @property
    def baselined(self) -> int:
        """Findings the baseline accepted."""
        return len(self.result.findings) - len(self.findings) - self.fixed

    @property
    def fixed(self) -> int:
        """Findings whose secret moved into the vault in this run."""
        return sum(
            len(f.patch.placeholders) if f.patch else 0 for f in self.fixes if f.status == "fixed"
        )

    @property
    def clean(self) -> bool:
        """Nothing left to act on."""
        return not self.findings


def default_data_dir() -> Path:
    """Limen's data directory when neither ``--data-dir`` nor ``LIMEN_DATA_DIR`` is set.

    The same default as :class:`limen.config.Settings` (a test keeps them equal), without
    importing the settings machinery into every scan.
    """
    env = os.environ.get("LIMEN_DATA_DIR")
    if env:
        return Path(env).expanduser().absolute()
    import platformdirs

    return Path(platformdirs.user_data_dir("limen", appauthor=False)).absolute()


def default_cache_dir() -> Path:
    """Where compiled rule databases are cached between runs."""
    base = os.environ.get("XDG_CACHE_HOME")
    if base and os.path.isabs(base):
        return Path(base) / "limen"
    import platformdirs

    return Path(platformdirs.user_cache_dir("limen", appauthor=False))


def run(options: ScanOptions) -> ScanOutcome:
    """Run one scan as ``options`` say; raise a :class:`~limen.errors.LimenError` if it cannot."""
    _check(options)
    with _named_files():
        cache_dir = options.cache_dir or default_cache_dir()
        rules = load_rules(cache_dir=cache_dir)
        if options.rule_files:
            rules = [*rules, *load_rules(options.rule_files)]
        baseline = None
        if options.baseline is not None or options.write_baseline is not None:
            from limen.discovery.baseline import Baseline

            baseline = Baseline.load(options.baseline) if options.baseline else None
        data_dir = options.data_dir or default_data_dir()
        engine = Engine.cached(rules, cache_dir=cache_dir)
        sources = _sources(options)
        scanner = Scanner(
            engine,
            fingerprint_key=fingerprint_key(data_dir),
            max_size=options.max_size,
            jobs=options.jobs,
        )
        result = scanner.scan(sources, progress=options.progress)
        findings = baseline.filter(result.findings) if baseline else list(result.findings)
        if options.write_baseline is not None:
            path = options.write_baseline
            existing = Baseline.load(path) if path.exists() else Baseline.empty()
            existing.with_findings(result.findings).save(path)
    identities = build_inventory(findings, result.agents)
    outcome = ScanOutcome(
        result=result, findings=findings, identities=identities, rules=tuple(rules)
    )
    if options.report is not None:
        outcome.report = _report(options.report, findings, identities, options)
    if options.fix is not None:
        _fix(outcome, options.fix, data_dir)
    return outcome


def undo_fix(*, data_dir: Path | None, open_vault: OpenVault) -> list[Path]:
    """Undo the most recent ``--fix`` recorded in ``data_dir``; return the restored files.

    Each secret is read back from the vault. A file changed since the fix is refused and
    the record kept, so nothing is restored half-way without saying so.
    """
    from limen.discovery.fix_journal import FixJournal
    from limen.discovery.remediation import VaultRemediator, undo_patch

    journal = FixJournal(data_dir or default_data_dir())
    record = journal.latest()
    if record is None:
        raise InvalidInput("no fix to undo: `limen scan --fix` has not changed any file here")
    service, actor = open_vault()
    remediator = VaultRemediator(service, actor, record.vault)
    restored = []
    for applied in record.files:
        restored.append(undo_patch(applied, remediator.resolve))
    journal.forget(record)
    return restored


def _check(options: ScanOptions) -> None:
    if options.jobs is not None and options.jobs < 1:
        raise InvalidInput("--jobs must be at least 1")
    if sum((options.git, options.staged, options.endpoint)) > 1:
        raise InvalidInput("choose one of --git, --staged and --endpoint")
    report = options.report
    if report is not None and not (report.server and report.token):
        raise InvalidInput("--report needs --server URL and --token (or LIMEN_SERVER/LIMEN_TOKEN)")


@contextmanager
def _named_files() -> Iterator[None]:
    # Files the user named (rules, baselines) that cannot be read or written: a scan error
    # that names the file, not a traceback. Files found inside a tree are warnings instead.
    try:
        yield
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise ScanError(f"{where}{exc.strerror or exc.__class__.__name__}") from None


def _sources(options: ScanOptions) -> list[ScanSource]:
    from limen.discovery.sources.files import FileSource

    paths = list(options.paths)
    if options.endpoint:
        from limen.discovery.sources.endpoint import EndpointSource

        home = options.home or Path.home()
        sources: list[ScanSource] = [EndpointSource(home, roots=paths)]
        if options.browsers:
            from limen.discovery.sources.browsers import BrowserSource

            sources.append(BrowserSource(home))
        return sources
    targets = paths or [Path.cwd()]
    # A mistyped path must not pass as a clean scan: a missing *argument* is an error,
    # while unreadable files found inside a tree are warnings and the scan goes on.
    missing = [str(p) for p in targets if not os.path.lexists(p)]
    if missing:
        raise InvalidInput(f"no such file or directory: {', '.join(missing)}")
    if options.git or options.staged:
        from limen.discovery.sources.git_history import GitHistorySource, StagedSource

        if options.git:
            return [GitHistorySource(p, max_size=options.max_size) for p in targets]
        return [StagedSource(p) for p in targets]
    return [FileSource(targets, no_ignore=options.no_ignore)]


def fingerprint_key(data_dir: Path) -> bytes:
    """This installation's fingerprint key, created on first use.

    A stable key lets the inventory recognise the same credential across scans; when
    the data directory is not writable (a CI runner), a per-run key still groups the
    findings of this run.
    """
    path = data_dir / _KEY_FILE
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except OSError:
        pass
    key = secrets.token_bytes(32)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
    except FileExistsError:
        return path.read_bytes()
    except OSError:
        pass
    return key


def _report(
    report: ReportOptions,
    findings: Sequence[Finding],
    identities: Sequence[DiscoveredIdentity],
    options: ScanOptions,
) -> dict[str, object]:
    from limen.discovery.reporting import HttpReporter

    reporter = HttpReporter(
        report.server,
        report.token,
        origin=report.origin,
        machine=report.machine,
        owner=report.owner,
        scope=_scope(options),
    )
    reporter.report(findings, identities)
    return reporter.last_response or {}


def _scope(options: ScanOptions) -> str:
    """What this scan covered; a later scan of the same scope resolves what it no longer finds."""
    if options.endpoint:
        roots = ",".join(sorted(str(Path(p).absolute()) for p in options.paths))
        return f"endpoint:{roots or 'home'}"
    kind = "git" if options.git else "staged" if options.staged else "files"
    places = ",".join(sorted(str(Path(p).absolute()) for p in options.paths)) or str(Path.cwd())
    return f"{kind}:{places}"


def _fix(outcome: ScanOutcome, fix: FixOptions, data_dir: Path) -> None:
    from limen.discovery.errors import RemediationError
    from limen.discovery.fix_journal import FixJournal
    from limen.discovery.remediation import (
        VaultRemediator,
        apply_patch,
        file_format,
        plan_patch,
    )

    by_path: dict[str, list[Finding]] = {}
    for finding in outcome.findings:
        if finding.source not in ("file", "endpoint") or file_format(finding.path) is None:
            outcome.fixes.append(
                FixOutcome(finding.location, "refused", "not a rewritable config file")
            )
            continue
        by_path.setdefault(finding.path, []).append(finding)
    planned: list[tuple[FilePatch, list[Finding]]] = []
    for path, group in by_path.items():
        replacements = [(f, VaultRemediator.reference(fix.vault, f)) for f in group]
        try:
            planned.append((plan_patch(Path(path), replacements), group))
        except RemediationError as exc:
            outcome.fixes.append(FixOutcome(path, "refused", exc.detail))
    if fix.dry_run or not planned:
        outcome.fixes.extend(
            FixOutcome(str(p.path), "planned", target=str(p.target), patch=p) for p, _ in planned
        )
        return
    if fix.open_vault is None:
        raise InvalidInput("--fix needs the vault: run it as `limen scan --fix`")
    remediator: VaultRemediator | None = None
    applied: list[AppliedFix] = []
    fixed: set[tuple[str, int, int]] = set()
    try:
        for patch, group in planned:
            if fix.confirm is not None and not fix.confirm(patch):
                outcome.fixes.append(FixOutcome(str(patch.path), "declined", patch=patch))
                continue
            if remediator is None:
                service, actor = fix.open_vault()
                remediator = VaultRemediator(service, actor, fix.vault)
            # Secrets go into the vault first: if that fails, no file has changed yet.
            for finding in group:
                remediator.store(finding)
            try:
                applied.append(apply_patch(patch))
            except RemediationError as exc:
                outcome.fixes.append(FixOutcome(str(patch.path), "refused", exc.detail))
                continue
            outcome.fixes.append(
                FixOutcome(str(patch.path), "fixed", target=str(patch.target), patch=patch)
            )
            fixed.update((f.path, f.line, f.column) for f in group)
    finally:
        if applied:
            outcome.fix_id = FixJournal(data_dir).record(fix.vault, applied).id
    outcome.findings = [f for f in outcome.findings if (f.path, f.line, f.column) not in fixed]
