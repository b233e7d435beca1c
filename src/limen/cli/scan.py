"""``limen scan``: find exposed credentials and the shadow identities behind them.

The scan itself is :func:`limen.discovery.run`; this module parses options into
:class:`~limen.discovery.ScanOptions` and renders the :class:`~limen.discovery.ScanOutcome`.

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
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from limen.errors import InvalidInput, LimenError

if TYPE_CHECKING:
    from limen.audit import Actor
    from limen.discovery import (
        FilePatch,
        Finding,
        FixOptions,
        ScanOptions,
        ScanOutcome,
        ScanResult,
    )
    from limen.vault import VaultService

__all__ = ["main", "register", "scan"]

EXIT_CLEAN = 0
EXIT_ERROR = 2
_SIZE = re.compile(r"(?i)^\s*(\d+(?:\.\d+)?)\s*([kmg]?i?b?)?\s*$")
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3}
_MAX_WARNINGS_SHOWN = 20
_FORMATS = ("table", "json", "jsonl", "sarif", "csv")


def register(app: typer.Typer) -> None:
    """Add ``limen scan`` to the root app."""
    app.command("scan")(scan)


def main() -> None:
    """``python -m limen.cli.scan``: the scanner alone, for CI jobs and pre-commit hooks.

    Same options, same exit codes as ``limen scan``; only ``--fix`` and ``--undo-fix``,
    which need the vault, need the full command.
    """
    from limen.cli._coercion import convert_plainly

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)
    command = typer.main.get_command(app)
    convert_plainly(command, typer.Context(command, info_name="limen scan"))
    command(prog_name="limen scan")


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
    undo_fix: Annotated[
        bool,
        typer.Option(
            "--undo-fix", help="Undo the last --fix: put the secrets back from the vault."
        ),
    ] = False,
    no_browsers: Annotated[
        bool,
        typer.Option("--no-browsers", help="With --endpoint: leave browser profiles alone."),
    ] = False,
    machine: Annotated[
        str | None,
        typer.Option(
            "--machine",
            envvar="LIMEN_MACHINE",
            help="With --report: this machine's name in the fleet (default: host name).",
        ),
    ] = None,
) -> None:
    """Find exposed credentials, AI-agent configs and the shadow identities behind them."""
    fmt = "json" if json_output else fmt.lower()
    try:
        if undo_fix:
            _undo(ctx, as_json=fmt == "json", quiet=quiet)
            raise typer.Exit(EXIT_CLEAN)
        if fmt not in _FORMATS:
            raise InvalidInput(f"unknown format {fmt!r}; use table, json, jsonl, sarif or csv")
        if (dry_run or yes) and not fix:
            raise InvalidInput("--dry-run and --yes go with --fix")
        from limen import discovery

        if report and not (server and token):
            # `limen --server URL --token T scan --report`, or LIMEN_URL and LIMEN_TOKEN set
            root = ctx.find_root().obj
            server = server or getattr(root, "server", None)
            token = token or getattr(root, "token", None)
        options = discovery.ScanOptions(
            paths=tuple(paths or ()),
            git=git,
            staged=staged,
            endpoint=endpoint,
            browsers=not no_browsers,
            no_ignore=no_ignore,
            max_size=_parse_size(max_size),
            baseline=baseline,
            write_baseline=write_baseline,
            rule_files=tuple(rules or ()),
            jobs=jobs,
            data_dir=_data_dir(ctx),
            report=discovery.ReportOptions(
                server=server or "",
                token=token or "",
                origin=_origin(),
                machine=machine or _hostname(),
                owner=_user(),
            )
            if report
            else None,
            fix=_fix_options(ctx, vault=vault, dry_run=dry_run, yes=yes, show=show_secrets)
            if fix
            else None,
        )
        outcome = _run_with_progress(options, quiet=quiet)
        _show(outcome, fmt=fmt, output=output, show_secrets=show_secrets, quiet=quiet)
        code = EXIT_CLEAN if outcome.clean else exit_code
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        typer.echo("limen: interrupted", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except LimenError as exc:
        if _debug(ctx):
            raise
        typer.echo(f"limen: {_safe(exc.detail)}", err=True)
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


def _show(
    outcome: ScanOutcome, *, fmt: str, output: Path | None, show_secrets: bool, quiet: bool
) -> None:
    """Render the outcome: data on stdout (or ``output``), everything else on stderr."""
    _render(outcome, fmt=fmt, output=output, show_secrets=show_secrets)
    _warnings(outcome.result)
    if not quiet:
        _summary(outcome)
    if outcome.report is not None and not quiet:
        answer = outcome.report
        created, updated = answer.get("created") or [], answer.get("updated") or []
        typer.echo(
            f"reported: {len(created)} new and {len(updated)} known unmanaged "  # type: ignore[arg-type]
            f"identities, {answer.get('findings', 0)} findings"
            + (f", {answer['resolved']} resolved" if answer.get("resolved") else ""),
            err=True,
        )
    _fix_messages(outcome, show_secrets=show_secrets)


def _render(outcome: ScanOutcome, *, fmt: str, output: Path | None, show_secrets: bool) -> None:
    from limen.discovery import render

    if fmt == "table":
        text = _table(outcome.findings, show_secrets=show_secrets, to_file=output is not None)
    else:
        text = render(
            fmt,  # type: ignore[arg-type]
            result=outcome.result,
            findings=outcome.findings,
            identities=outcome.identities,
            rules=outcome.rules,
            show_secrets=show_secrets,
        )
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"{output}: cannot write ({exc.strerror})") from None
    elif text:
        sys.stdout.write(text)
        sys.stdout.flush()


def _fix_options(
    ctx: typer.Context, *, vault: str, dry_run: bool, yes: bool, show: bool
) -> FixOptions:
    from limen.discovery import FixOptions

    if dry_run:
        return FixOptions(vault=vault, dry_run=True)
    if _root_obj(ctx) is None:
        raise InvalidInput("--fix needs the vault: run it as `limen scan --fix`")
    confirm = None
    if not yes:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise InvalidInput(
                "--fix asks before changing each file, and there is no terminal to ask on: "
                "pass --yes to apply without asking, or --dry-run to see the diff"
            )

        def confirm(patch: FilePatch) -> bool:
            typer.echo(_safe(patch.diff(show_secrets=show)), err=True, nl=False)
            where = f" (becomes {patch.target.name})" if patch.is_template else ""
            return typer.confirm(
                f"Move the secrets of {_safe(str(patch.path))}{where} into vault {vault!r}?",
                err=True,
            )

    return FixOptions(vault=vault, open_vault=lambda: _open_vault(ctx), confirm=confirm)


def _open_vault(ctx: typer.Context) -> tuple[VaultService, Actor]:
    from limen.audit import Actor
    from limen.cli.main import load_state
    from limen.cli.vault import vault_service

    load_state(ctx)
    return vault_service(ctx), Actor.operator()


def _fix_messages(outcome: ScanOutcome, *, show_secrets: bool) -> None:
    for fixed in outcome.fixes:
        where = _safe(fixed.path)
        if fixed.status == "planned" and fixed.patch is not None:
            typer.echo(_safe(fixed.patch.diff(show_secrets=show_secrets)), err=True, nl=False)
        elif fixed.status == "refused":
            typer.echo(f"limen: fix: {where}: {_safe(fixed.detail)}", err=True)
        elif fixed.status == "fixed" and fixed.patch is not None:
            if fixed.patch.is_template:
                target = _safe(str(fixed.patch.target))
                typer.echo(
                    f"limen: fixed {where}: now the template {target} (git-ignored original; "
                    f"render it with `limen inject -i {target} -o {where}`)",
                    err=True,
                )
            else:
                typer.echo(
                    f"limen: fixed {where} (run with `limen run --env-file {where} -- …`)",
                    err=True,
                )
    if outcome.fix_id:
        typer.echo("limen: `limen scan --undo-fix` puts the secrets back", err=True)


def _undo(ctx: typer.Context, *, as_json: bool, quiet: bool) -> None:
    from limen.discovery import undo_fix

    if _root_obj(ctx) is None:
        raise InvalidInput("--undo-fix needs the vault: run it as `limen scan --undo-fix`")
    restored = undo_fix(data_dir=_data_dir(ctx), open_vault=lambda: _open_vault(ctx))
    if as_json:
        import json

        typer.echo(json.dumps({"restored": [str(p) for p in restored]}, indent=2))
    elif not quiet:
        for path in restored:
            typer.echo(f"limen: restored {_safe(str(path))}", err=True)


def _origin() -> str:
    return os.environ.get("CI_JOB_URL") or os.environ.get("GITHUB_REPOSITORY") or _hostname()


def _hostname() -> str:
    import socket

    return socket.gethostname()


def _user() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _run_with_progress(options: ScanOptions, *, quiet: bool) -> ScanOutcome:
    from dataclasses import replace

    from limen.discovery import run

    if quiet or not sys.stderr.isatty():
        return run(options)
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

        return run(replace(options, progress=progress))


def _table(findings: Sequence[Finding], *, show_secrets: bool, to_file: bool) -> str:
    if not findings:
        return ""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{len(findings)} finding(s)", title_justify="left")
    table.add_column("provider")
    table.add_column("rule")
    table.add_column("location", overflow="fold")
    table.add_column("secret", overflow="fold")
    table.add_column("owner")
    for f in findings:
        # Text, not markup: a file named "[red]x" must print as it is named.
        table.add_row(
            Text(_safe(f.provider)),
            Text(f.rule_id),
            Text(_safe(f.location)),
            Text(_safe(f.secret) if show_secrets else _safe(f.redacted)),
            Text(_safe(f.owner or "")),
        )
    # Piped or written to a file, rows must not fold at 80 columns.
    wide = to_file or not sys.stdout.isatty()
    console = Console(record=True, width=200 if wide else None, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def _warnings(result: ScanResult) -> None:
    for warning in result.warnings[:_MAX_WARNINGS_SHOWN]:
        typer.echo(f"limen: warning: {_safe(warning)}", err=True)
    hidden = len(result.warnings) - _MAX_WARNINGS_SHOWN
    if hidden > 0:
        typer.echo(f"limen: warning: … and {hidden} more", err=True)


def _summary(outcome: ScanOutcome) -> None:
    from rich.console import Console
    from rich.table import Table

    result = outcome.result
    err = Console(stderr=True)
    stats = result.stats
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("scanned", f"{stats.blobs} files, {stats.bytes / 1e6:.1f} MB")
    skipped = f"{stats.skipped_binary} binary, {stats.skipped_large} too large"
    if stats.unreadable:
        skipped += f", {stats.unreadable} unreadable"
    table.add_row("skipped", skipped)
    table.add_row("findings", str(len(outcome.findings)))
    if outcome.baselined:
        table.add_row("in baseline", str(outcome.baselined))
    if outcome.fixed:
        table.add_row("moved to the vault", str(outcome.fixed))
    table.add_row("identities", str(len(outcome.identities)))
    if result.agents:
        table.add_row("agents / MCP servers", str(len(result.agents)))
    err.print(table)


def _safe(text: str) -> str:
    """``text`` fit for a terminal or a UTF-8 file.

    File names are attacker-controlled: escape sequences in them must not reach the
    terminal, and names that are not valid UTF-8 (carried as surrogate escapes) must not
    crash the output. Both are shown as backslash escapes instead.
    """
    from limen.discovery import printable

    return printable(text)


def _parse_size(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        raise InvalidInput(f"--max-size: cannot read {text!r}; use e.g. 500KB or 10MB")
    number, unit = match.groups()
    unit = (unit or "").lower()
    factor = _UNITS[unit[:1]] if "i" not in unit else 1024 ** "bkmg".index(unit[:1])
    return int(float(number) * factor)


def _root_obj(ctx: typer.Context) -> object | None:
    return ctx.find_root().obj


def _data_dir(ctx: typer.Context) -> Path | None:
    """The data directory the root command was given, if any; discovery knows the default."""
    obj = _root_obj(ctx)
    settings = getattr(obj, "settings", None)
    if settings is not None:
        return Path(settings.data_dir)
    given = getattr(obj, "data_dir", None)
    return Path(given).expanduser().absolute() if given is not None else None


def _debug(ctx: typer.Context) -> bool:
    return bool(getattr(_root_obj(ctx), "debug", False))


if __name__ == "__main__":
    main()
