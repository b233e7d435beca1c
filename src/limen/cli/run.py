"""``limen read``, ``limen run`` and ``limen inject``: secrets where programs need them.

References (``limen://vault/item[/section]/field``) are resolved through the vault
service as the operator; each resolution is a ``vault.secret.read`` event naming the
reference and the purpose (``read``, ``run``, ``inject``), never the value.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from limen.audit import Actor
from limen.cli._errors import fail
from limen.cli._output import emit_json
from limen.errors import InvalidInput, LimenError
from limen.vault import SCHEME, Masker, render

if TYPE_CHECKING:
    from limen.vault import ResolvedSecret

__all__ = ["register"]

_WITHHELD = frozenset({"LIMEN_KEY_PASSPHRASE"})
EXIT_NOT_FOUND = 127
EXIT_CANNOT_RUN = 126


def read(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="limen://vault/item[/section]/field")],
    no_newline: Annotated[
        bool, typer.Option("--no-newline", "-n", help="Do not print a trailing newline.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Print the value a secret reference points at."""
    secret = _Resolver(ctx).resolve(Actor.operator(), reference, purpose="read")
    if as_json:
        emit_json(
            {
                "reference": secret.reference,
                "value": secret.value,
                "vault_id": secret.vault_id,
                "item_id": secret.item_id,
                "field_id": secret.field_id,
            }
        )
        return
    typer.echo(secret.value, nl=not no_newline)


def run(
    ctx: typer.Context,
    command: Annotated[list[str], typer.Argument(help="The command to run, after --.")],
    env_file: Annotated[
        list[Path] | None,
        typer.Option("--env-file", help="KEY=VALUE file to load (repeatable).", dir_okay=False),
    ] = None,
    no_masking: Annotated[
        bool, typer.Option("--no-masking", help="Do not mask secret values in the output.")
    ] = False,
) -> None:
    """Run a command with every limen:// reference in its environment resolved.

    The values reach only the child's environment. Its output is masked (each value
    printed as <concealed by limen>) unless --no-masking.
    """
    if not command:
        raise InvalidInput("name a command to run after --, e.g. limen run -- ./deploy.sh")
    service = _Resolver(ctx)
    actor = Actor.operator()
    # The child gets the references it asked for, never the key that unlocks the vault
    # (nor, in remote mode, the token that reads it).
    withheld = _WITHHELD | ({"LIMEN_TOKEN"} if service.remote else set())
    environment = {k: v for k, v in os.environ.items() if k not in withheld}
    origin = dict.fromkeys(environment, "the environment")
    for path in env_file or []:
        values = _read_env_file(path)
        environment.update(values)
        origin.update(dict.fromkeys(values, str(path)))
    resolved: dict[str, str] = {}
    for name, value in sorted(environment.items()):
        if value.strip().startswith(SCHEME):
            try:
                resolved[name] = service.resolve(actor, value.strip(), purpose="run").value
            except LimenError as exc:
                # Same error, same exit code; it also names the variable that held the
                # reference and where that came from, so the right line gets fixed.
                exc.detail = f"{name} (from {origin[name]}): {exc.detail}"
                raise
    environment.update(resolved)
    code = _spawn(command, environment, None if no_masking else set(resolved.values()))
    raise typer.Exit(code)


def inject(
    ctx: typer.Context,
    in_file: Annotated[
        Path | None,
        typer.Option("--in-file", "-i", help="Template (default: stdin).", dir_okay=False),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out-file", "-o", help="Output (default: stdout).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite --out-file.")] = False,
) -> None:
    """Render a template, replacing each {{ limen://… }} with its secret value."""
    if in_file is not None:
        try:
            template = in_file.read_text()
        except OSError as exc:
            raise InvalidInput(f"cannot read {in_file}: {exc.strerror}") from None
    else:
        template = sys.stdin.read()
    if out_file is not None and out_file.exists() and not force:
        raise InvalidInput(f"{out_file} exists; use --force to overwrite it")
    service = _Resolver(ctx)
    actor = Actor.operator()
    rendered = render(template, lambda ref: service.resolve(actor, ref, purpose="inject").value)
    if out_file is None:
        typer.echo(rendered, nl=False)
        return
    # The output holds secrets: readable by its owner only, from the moment it exists.
    with contextlib.suppress(FileNotFoundError):
        out_file.unlink()
    fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(rendered)
    typer.echo(f"Wrote {out_file}", err=True)


class _Resolver:
    """Resolves references for one command: on the embedded database without loading
    the services where it can (:class:`limen.vault.QuickVault`), else through the vault
    service, which gives every other answer and error."""

    def __init__(self, ctx: typer.Context) -> None:
        self._ctx = ctx
        self._quick: Any = None
        self._service: Any = None
        self._server: Any = None
        from limen.cli.main import RootOptions

        options = ctx.find_root().obj
        if isinstance(options, RootOptions) and options.server and options.token:
            # Remote mode: the server's vault API, with the CLI's token; nothing local.
            from limen.cli._remote import Remote
            from limen.cli._remote_vault import RemoteVault

            remote = Remote(options.server, options.token)
            ctx.call_on_close(remote.close)
            self._server = RemoteVault(remote)
            return
        if isinstance(options, RootOptions):
            from limen._quick_settings import embedded_paths

            paths = embedded_paths(options.data_dir, options.database_url)
            if paths is not None:
                from limen.vault import QuickVault

                self._quick = QuickVault.open(*paths)
                if self._quick is not None:
                    ctx.call_on_close(self._quick.close)
        if self._quick is None:
            # As the command always did: the installation and its key are checked
            # before the first reference is read.
            self._service = self._vault_service()

    @property
    def remote(self) -> bool:
        """Whether references are read from a server's vault API (remote mode)."""
        return self._server is not None

    def resolve(self, actor: Actor, reference: str, *, purpose: str) -> ResolvedSecret:
        if self._server is not None:
            secret: ResolvedSecret = self._server.resolve(reference)
            return secret
        if self._quick is not None:
            secret = self._quick.resolve(actor, reference, purpose=purpose)
            if secret is not None:
                return secret
        if self._service is None:
            self._service = self._vault_service()
        return self._service.resolve(actor, reference, purpose=purpose)

    def _vault_service(self) -> Any:
        from limen.cli.main import load_state
        from limen.cli.vault import vault_service

        load_state(self._ctx)
        return vault_service(self._ctx)


def _read_env_file(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    values = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        text = text.removeprefix("export ").strip()
        name, sep, value = text.partition("=")
        if not sep or not name.strip().isidentifier():
            raise InvalidInput(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def _spawn(command: list[str], environment: dict[str, str], secrets: set[str] | None) -> int:
    pipe = subprocess.PIPE if secrets is not None else None
    # A shell's exit codes: 127 when the command does not exist, 126 when it cannot run.
    try:
        child = subprocess.Popen(command, env=environment, stdout=pipe, stderr=pipe)
    except FileNotFoundError:
        raise fail(f"{command[0]}: command not found", EXIT_NOT_FOUND) from None
    except (PermissionError, IsADirectoryError):
        raise fail(f"{command[0]}: cannot execute (permission denied)", EXIT_CANNOT_RUN) from None
    except OSError as exc:
        raise fail(f"{command[0]}: cannot execute ({exc.strerror})", EXIT_CANNOT_RUN) from None
    previous = _forward_signals(child)
    try:
        if secrets is not None:
            assert child.stdout is not None and child.stderr is not None
            pumps = [
                threading.Thread(target=_pump, args=(child.stdout, _sink(sys.stdout), secrets)),
                threading.Thread(target=_pump, args=(child.stderr, _sink(sys.stderr), secrets)),
            ]
            for pump in pumps:
                pump.start()
            for pump in pumps:
                pump.join()
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _sink(stream: Any) -> Any:
    return getattr(stream, "buffer", stream)


def _pump(source: IO[bytes], sink: Any, secrets: set[str]) -> None:
    masker = Masker(secrets)
    fd = source.fileno()
    while chunk := os.read(fd, 65536):
        _write(sink, masker.feed(chunk))
    _write(sink, masker.flush())
    source.close()


def _write(sink: Any, data: bytes) -> None:
    if data:
        sink.write(data)
        sink.flush()


def _forward_signals(child: subprocess.Popen[bytes]) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, lambda s, _f: child.send_signal(s))
    return previous


def register(app: typer.Typer) -> None:
    app.command()(read)
    app.command(
        context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True}
    )(run)
    app.command()(inject)
