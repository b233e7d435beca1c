"""``limen scan``: find exposed credentials and the shadow identities behind them.

Exit codes are part of the contract, because CI jobs and pre-commit hooks act on them:

- ``0``: nothing found (after the baseline and ``limen:allow`` markers);
- ``1``: findings remain (change with ``--exit-code``);
- ``2``: the scan could not run (bad option, unreadable rule or baseline file, …).

Data goes to stdout (or ``--output``); progress, the summary and warnings go to stderr,
so ``--format json`` leaves exactly one JSON document on stdout.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import platformdirs
import typer

from limen.discovery import (
    FORMATS,
    Baseline,
    DiscoveredIdentity,
    EndpointSource,
    Engine,
    FilePatch,
    FileSource,
    Finding,
    GitHistorySource,
    HttpReporter,
    RemediationError,
    Scanner,
    ScanResult,
    ScanSource,
    StagedSource,
    apply_patch,
    build_inventory,
    file_format,
    load_rules,
    plan_patch,
    render,
)
from limen.errors import InvalidInput, LimenError

__all__ = ["main", "register", "scan"]

EXIT_CLEAN = 0
EXIT_ERROR = 2
_KEY_FILE = "scan-fingerprint.key"
_SIZE = re.compile(r"(?i)^\s*(\d+(?:\.\d+)?)\s*([kmg]?i?b?)?\s*$")
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3}
_MAX_WARNINGS_SHOWN = 20


def register(app: typer.Typer) -> None:
    """Add ``limen scan`` to the root app."""
    app.command("scan")(scan)


def main() -> None:
    """``python -m limen.cli.scan``: the scanner alone, for CI jobs and pre-commit hooks.

    The full ``limen`` command imports the server's packages (database, vault, API); a
    hook that runs on every commit should not wait for them. Same options, same exit
    codes; only ``--fix`` needs the full command.
    """
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)
    app(prog_name="limen scan")


def scan(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files and folders to scan (default: the current folder)."),
    ] = None,
    git: Annotated[
        bool, typer.Option("--git", help="Scan the full git history of each PATH (a repo).")
    ] = False,
    staged: Annotated[
        bool, typer.Option("--staged", help="Scan what is staged for the next commit.")
    ] = False,
    endpoint: Annotated[
        bool,
        typer.Option(
            "--endpoint",
            help="Scan this machine: shell histories, cloud CLI credentials, SSH keys, "
            "agent and MCP configs, and .env files under PATH (default: home).",
        ),
    ] = False,
    no_ignore: Annotated[
        bool, typer.Option("--no-ignore", help="Scan files .gitignore excludes too.")
    ] = False,
    max_size: Annotated[
        str, typer.Option("--max-size", help="Skip files larger than this (e.g. 10MB).")
    ] = "10MB",
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table, json, jsonl, sarif or csv.")
    ] = "table",
    json_output: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")
    ] = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print secrets in full, not redacted.")
    ] = False,
    exit_code: Annotated[
        int, typer.Option("--exit-code", help="Exit code when findings remain.")
    ] = 1,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Ignore findings accepted in FILE.")
    ] = None,
    write_baseline: Annotated[
        Path | None,
        typer.Option("--write-baseline", help="Accept the current findings into FILE."),
    ] = None,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Extra rule file (TOML); may be repeated."),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Worker processes (default: cores).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")
    ] = False,
    report: Annotated[
        bool,
        typer.Option("--report", help="Send findings and identities to a Limen server."),
    ] = False,
    server: Annotated[
        str | None, typer.Option("--server", envvar="LIMEN_SERVER", help="Server URL.")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="LIMEN_TOKEN", help="Access token.")
    ] = None,
    fix: Annotated[bool, typer.Option("--fix", help="Move found secrets into the vault.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --fix: show the diff, change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --fix: do not ask.")] = False,
    vault: Annotated[
        str, typer.Option("--vault", help="With --fix: the vault that receives the secrets.")
    ] = "discovered",
) -> None:
    """Find exposed credentials, AI-agent configs and the shadow identities behind them."""
    try:
        code = _run(
            ctx,
            paths=paths or [],
            git=git,
            staged=staged,
            endpoint=endpoint,
            no_ignore=no_ignore,
            max_size=_parse_size(max_size),
            fmt="json" if json_output else fmt.lower(),
            output=output,
            show_secrets=show_secrets,
            exit_code=exit_code,
            baseline_path=baseline,
            write_baseline=write_baseline,
            rule_files=rules or [],
            jobs=jobs,
            quiet=quiet,
            report=report,
            server=server,
            token=token,
            fix=fix,
            dry_run=dry_run,
            yes=yes,
            vault=vault,
        )
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        typer.echo("limen: interrupted", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except LimenError as exc:
        if _debug(ctx):
            raise
        typer.echo(f"limen: {exc.detail}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except OSError as exc:
        if _debug(ctx):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        typer.echo(f"limen: {where}{exc.strerror or exc.__class__.__name__}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except Exception as exc:
        # The scanner's exit codes are a contract: a bug must still exit 2, not 1 or 70.
        if _debug(ctx):
            raise
        typer.echo(
            f"limen: internal error ({type(exc).__name__}); run with --debug for details",
            err=True,
        )
        raise typer.Exit(EXIT_ERROR) from None
    raise typer.Exit(code)


def _run(
    ctx: typer.Context,
    *,
    paths: list[Path],
    git: bool,
    staged: bool,
    endpoint: bool,
    no_ignore: bool,
    max_size: int,
    fmt: str,
    output: Path | None,
    show_secrets: bool,
    exit_code: int,
    baseline_path: Path | None,
    write_baseline: Path | None,
    rule_files: list[Path],
    jobs: int | None,
    quiet: bool,
    report: bool,
    server: str | None,
    token: str | None,
    fix: bool,
    dry_run: bool,
    yes: bool,
    vault: str,
) -> int:
    if fmt not in (*FORMATS, "table"):
        raise InvalidInput(f"unknown format {fmt!r}; use table, json, jsonl, sarif or csv")
    if jobs is not None and jobs < 1:
        raise InvalidInput("--jobs must be at least 1")
    if report and not (server and token):
        raise InvalidInput("--report needs --server URL and --token (or LIMEN_SERVER/LIMEN_TOKEN)")
    if (dry_run or yes) and not fix:
        raise InvalidInput("--dry-run and --yes go with --fix")
    if fix and not dry_run and getattr(ctx.find_root().obj, "settings", None) is None:
        raise InvalidInput("--fix needs the vault: run it as `limen scan --fix`")

    rule_set = load_rules()
    if rule_files:
        rule_set = [*rule_set, *load_rules(rule_files)]
    baseline = Baseline.load(baseline_path) if baseline_path else None
    data_dir = _data_dir(ctx)
    engine = Engine.cached(
        rule_set, cache_dir=Path(platformdirs.user_cache_dir("limen", appauthor=False))
    )
    sources = _sources(
        paths, git=git, staged=staged, endpoint=endpoint, no_ignore=no_ignore, max_size=max_size
    )
    scanner = Scanner(
        engine, fingerprint_key=_fingerprint_key(data_dir), max_size=max_size, jobs=jobs
    )
    result = _scan_with_progress(scanner, sources, quiet=quiet)

    findings = baseline.filter(result.findings) if baseline else list(result.findings)
    if write_baseline is not None:
        existing = Baseline.load(write_baseline) if write_baseline.exists() else Baseline.empty()
        existing.with_findings(result.findings).save(write_baseline)
    identities = build_inventory(findings, result.agents)

    if fmt == "table":
        text = _table(findings, show_secrets=show_secrets, to_file=output is not None)
    else:
        text = render(
            fmt,  # type: ignore[arg-type]
            result=result,
            findings=findings,
            identities=identities,
            rules=rule_set,
            show_secrets=show_secrets,
        )
    if output is not None:
        output.write_text(text, encoding="utf-8")
    elif text:
        sys.stdout.write(text)
        sys.stdout.flush()

    _warnings(result)
    if not quiet:
        _summary(result, findings, identities_count=len(identities))
    if report:
        assert server and token
        _report(server, token, findings, identities, quiet=quiet)
    if fix:
        fixed = _fix(
            ctx, findings, vault=vault, dry_run=dry_run, yes=yes, show_secrets=show_secrets
        )
        findings = [f for f in findings if (f.path, f.line, f.column) not in fixed]
    return exit_code if findings else EXIT_CLEAN


def _report(
    server: str,
    token: str,
    findings: Sequence[Finding],
    identities: Sequence[DiscoveredIdentity],
    *,
    quiet: bool,
) -> None:
    reporter = HttpReporter(server, token, origin=_origin())
    reporter.report(findings, identities)
    if not quiet and reporter.last_response is not None:
        answer = reporter.last_response
        typer.echo(
            f"reported to {server}: {len(answer.get('created', []))} new and "
            f"{len(answer.get('updated', []))} known unmanaged identities, "
            f"{answer.get('findings', 0)} findings",
            err=True,
        )


def _origin() -> str:
    import socket

    return (
        os.environ.get("CI_JOB_URL") or os.environ.get("GITHUB_REPOSITORY") or socket.gethostname()
    )


class _VaultRemediator:
    """Stores each distinct secret once, as an API_CREDENTIAL item in one vault."""

    FIELD = "credential"

    def __init__(self, ctx: typer.Context, vault: str) -> None:
        from limen.audit import Actor
        from limen.cli.vault import vault_service
        from limen.vault import VaultNotFound

        self._actor = Actor.operator()
        self._service = vault_service(ctx)
        self.vault = vault
        try:
            self._service.get_vault(self._actor, vault)
        except VaultNotFound:
            self._service.create_vault(
                self._actor, vault, description="Secrets moved here by `limen scan --fix`."
            )

    @staticmethod
    def title(finding: Finding) -> str:
        # The fingerprint keeps titles unique per secret without revealing it.
        return f"{finding.rule_id}-{finding.fingerprint[:12]}"

    @classmethod
    def reference(cls, vault: str, finding: Finding) -> str:
        from limen.vault import Reference

        return str(Reference(vault=vault, item=cls.title(finding), field=cls.FIELD))

    def store(self, finding: Finding) -> str:
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


def _fix(
    ctx: typer.Context,
    findings: Sequence[Finding],
    *,
    vault: str,
    dry_run: bool,
    yes: bool,
    show_secrets: bool,
) -> set[tuple[str, int, int]]:
    """Move secrets into the vault and rewrite their files; return what was fixed."""
    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.source not in ("file", "endpoint") or file_format(finding.path) is None:
            typer.echo(f"limen: fix: {finding.location}: not a rewritable config file", err=True)
            continue
        by_path.setdefault(finding.path, []).append(finding)
    patches: list[tuple[FilePatch, list[Finding]]] = []
    for path, group in by_path.items():
        replacements = [(f, _VaultRemediator.reference(vault, f)) for f in group]
        try:
            patches.append((plan_patch(Path(path), replacements), group))
        except RemediationError as exc:
            typer.echo(f"limen: fix: {exc.detail}", err=True)
    if dry_run:
        for patch, _ in patches:
            typer.echo(patch.diff(show_secrets=show_secrets), err=True, nl=False)
        return set()
    if not patches:
        return set()
    remediator = _VaultRemediator(ctx, vault)
    fixed: set[tuple[str, int, int]] = set()
    for patch, group in patches:
        if not yes:
            typer.echo(patch.diff(show_secrets=show_secrets), err=True, nl=False)
            if not typer.confirm(
                f"Move {len(group)} secret(s) from {patch.path} into vault {vault!r}?",
                err=True,
            ):
                continue
        # Secrets go into the vault first: if that fails, no file has changed yet.
        for finding in group:
            remediator.store(finding)
        backup = apply_patch(patch)
        typer.echo(f"limen: fixed {patch.path} (backup: {backup})", err=True)
        fixed.update((f.path, f.line, f.column) for f in group)
    return fixed


def _sources(
    paths: list[Path],
    *,
    git: bool,
    staged: bool,
    endpoint: bool,
    no_ignore: bool,
    max_size: int,
) -> list[ScanSource]:
    if sum((git, staged, endpoint)) > 1:
        raise InvalidInput("choose one of --git, --staged and --endpoint")
    if endpoint:
        return [EndpointSource(Path.home(), roots=paths)]
    targets = paths or [Path.cwd()]
    # A mistyped path must not pass as a clean scan: a missing *argument* is an error,
    # while unreadable files found inside a tree are warnings and the scan goes on.
    missing = [str(p) for p in targets if not os.path.lexists(p)]
    if missing:
        raise InvalidInput(f"no such file or directory: {', '.join(missing)}")
    if git:
        return [GitHistorySource(p, max_size=max_size) for p in targets]
    if staged:
        return [StagedSource(p) for p in targets]
    return [FileSource(targets, no_ignore=no_ignore)]


def _scan_with_progress(
    scanner: Scanner, sources: Sequence[ScanSource], *, quiet: bool
) -> ScanResult:
    if quiet or not sys.stderr.isatty():
        return scanner.scan(sources)
    # Rich is imported only for terminal output: CI and hook runs start faster without it.
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    err = Console(stderr=True)
    with Progress(
        TextColumn("[bold]scanning"),
        BarColumn(),
        TextColumn("{task.fields[blobs]} files · {task.fields[mb]:.1f} MB"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=None, blobs=0, mb=0.0)

        def progress(blobs: int, size: int) -> None:
            bar.update(task, blobs=blobs, mb=size / 1e6)

        return scanner.scan(sources, progress=progress)


def _table(findings: Sequence[Finding], *, show_secrets: bool, to_file: bool) -> str:
    if not findings:
        return ""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(findings)} finding(s)", title_justify="left")
    table.add_column("provider")
    table.add_column("rule")
    table.add_column("location", overflow="fold")
    table.add_column("secret", overflow="fold")
    table.add_column("owner")
    for f in findings:
        table.add_row(
            f.provider,
            f.rule_id,
            f.location,
            f.secret if show_secrets else f.redacted,
            f.owner or "",
        )
    # Piped or written to a file, rows must not fold at 80 columns.
    wide = to_file or not sys.stdout.isatty()
    console = Console(record=True, width=200 if wide else None, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def _warnings(result: ScanResult) -> None:
    for warning in result.warnings[:_MAX_WARNINGS_SHOWN]:
        typer.echo(f"limen: warning: {warning}", err=True)
    hidden = len(result.warnings) - _MAX_WARNINGS_SHOWN
    if hidden > 0:
        typer.echo(f"limen: warning: … and {hidden} more", err=True)


def _summary(result: ScanResult, findings: Sequence[Finding], *, identities_count: int) -> None:
    from rich.console import Console
    from rich.table import Table

    err = Console(stderr=True)
    stats = result.stats
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("scanned", f"{stats.blobs} files, {stats.bytes / 1e6:.1f} MB")
    table.add_row("skipped", f"{stats.skipped_binary} binary, {stats.skipped_large} too large")
    table.add_row("findings", str(len(findings)))
    hidden = len(result.findings) - len(findings)
    if hidden:
        table.add_row("in baseline", str(hidden))
    table.add_row("identities", str(identities_count))
    if result.agents:
        table.add_row("agents / MCP servers", str(len(result.agents)))
    err.print(table)


def _parse_size(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        raise InvalidInput(f"--max-size: cannot read {text!r}; use e.g. 500KB or 10MB")
    number, unit = match.groups()
    unit = (unit or "").lower()
    factor = _UNITS[unit[:1]] if "i" not in unit else 1024 ** "bkmg".index(unit[:1])
    return int(float(number) * factor)


def _data_dir(ctx: typer.Context) -> Path:
    settings = getattr(ctx.find_root().obj, "settings", None)
    if settings is not None:
        return Path(settings.data_dir)
    env = os.environ.get("LIMEN_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir("limen", appauthor=False))


def _fingerprint_key(data_dir: Path) -> bytes:
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


def _debug(ctx: typer.Context) -> bool:
    return bool(getattr(ctx.find_root().obj, "debug", False))


if __name__ == "__main__":
    main()
