"""The ``limen`` command: the root app, global options and the sub-command groups.

Sub-command modules are imported when their command runs, not when ``limen`` starts:
``limen --version`` loads Typer and nothing else, ``limen scan`` loads the scanner and
not the database, the vault or the API. :data:`_COMMANDS` names, in the order ``--help``
lists them, the module that defines each command and how it is attached.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from limen import __version__
from limen.cli._coercion import convert_plainly
from limen.cli._errors import LimenGroup, fail

if TYPE_CHECKING:
    from limen.cli._context import CliState

__all__ = ["RootOptions", "app", "load_state", "main"]

# name -> (module, attribute): a ``register(app)`` function, or a Typer sub-app.
_COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "init": ("limen.cli.setup", "register"),
    "server": ("limen.cli.setup", "register"),
    "info": ("limen.cli.setup", "register"),
    "admin-token": ("limen.cli.setup", "register"),
    "read": ("limen.cli.run", "register"),
    "run": ("limen.cli.run", "register"),
    "inject": ("limen.cli.run", "register"),
    "scan": ("limen.cli.scan", "register"),
    "db": ("limen.cli.setup", "register"),
    "identity": ("limen.cli.identity", "app"),
    "events": ("limen.cli.events", "app"),
    "killswitch": ("limen.cli.killswitch", "app"),
    "partner": ("limen.cli.partner", "app"),
    "audit": ("limen.cli.audit", "register"),
    "events-token": ("limen.cli.audit", "register"),
    "sink": ("limen.cli.audit", "register"),
    "client": ("limen.cli.client", "app"),
    "policy": ("limen.cli.policy", "app"),
    "vault": ("limen.cli.vault", "vault_app"),
    "item": ("limen.cli.vault", "item_app"),
    "service-account": ("limen.cli.vault", "service_account_app"),
    "fleet": ("limen.cli.fleet", "app"),
    "token": ("limen.cli.token", "app"),
    "detect": ("limen.cli.detect", "app"),
    "alert": ("limen.cli.alert", "app"),
    "playbook": ("limen.cli.playbook", "app"),
    "threat": ("limen.cli.threat", "app"),
    "resource": ("limen.cli.resource", "app"),
    "scim": ("limen.cli.scim", "app"),
    "access": ("limen.cli.access", "app"),
    "posture": ("limen.cli.access", "posture_app"),
}

# Commands that build the settings only if they need them (``scan --fix`` does; ``read``,
# ``run`` and ``inject`` do unless they can read the embedded database directly), and
# convert their options without pydantic: importing it alone takes longer than a whole
# scan of a small folder.
_FAST: Final = frozenset({"scan", "read", "run", "inject"})


class _LazyGroup(LimenGroup):
    """The root group: commands are built from their module the first time they are asked for."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        convert_plainly(self, ctx)
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if name in _FAST and command is not None:
            convert_plainly(command, ctx)
        return name, command, rest

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in _COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in _COMMANDS:
            command = _load(cmd_name)
            self.commands[cmd_name] = command
        return command


def _load(name: str) -> Any:
    """Build command ``name`` exactly as ``app.add_typer``/``register(app)`` would."""
    module_name, attribute = _COMMANDS[name]
    target = getattr(importlib.import_module(module_name), attribute)
    holder = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        target(holder)

    @holder.callback()
    def _holder() -> None:
        """Only here so Typer builds a group even for one command."""

    return typer.main.get_group(holder).commands[name]


app = typer.Typer(
    name="limen",
    cls=_LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Limen: secure every identity — people, services and AI agents — in one place.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class RootOptions:
    """The global options, kept as given until a command asks for the settings."""

    data_dir: Path | None
    database_url: str | None
    debug: bool = False
    server: str | None = None
    token: str | None = None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"limen {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", envvar="LIMEN_DATA_DIR", help="Data directory.", show_default=False
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", envvar="LIMEN_DATABASE_URL", help="SQLAlchemy database URL."
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="LIMEN_URL",
            help="Talk to this Limen server over HTTP (with --token) instead of the data dir.",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="LIMEN_TOKEN",
            help="Access token for --server (remote mode needs both).",
            show_default=False,
            show_envvar=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    options = RootOptions(
        data_dir=data_dir, database_url=database_url, debug=debug, server=server, token=token
    )
    _check_remote(ctx, options)
    ctx.obj = options
    if ctx.invoked_subcommand not in _FAST:
        ctx.obj = _state(options)
        ctx.call_on_close(ctx.obj.close)


def _check_remote(ctx: typer.Context, options: RootOptions) -> None:
    """Remote mode needs a server and a token; a command of the server host refuses it."""
    given = {
        name: getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"
        for name in ("server", "token")
    }
    if given["server"] and not options.token:
        raise fail("--server needs a token: pass --token or set LIMEN_TOKEN", 2)
    if given["token"] and not options.server:
        raise fail("--token needs a server: pass --server or set LIMEN_URL", 2)
    if not (options.server and options.token):
        return
    from limen.cli._remote import refusal

    refused = refusal(ctx.invoked_subcommand or "")
    if refused is not None:
        raise fail(refused, 2)


def load_state(ctx: typer.Context) -> CliState:
    """The command's :class:`CliState`, building the settings now if they were deferred."""
    from limen.cli._context import CliState

    root_ctx = ctx.find_root()
    if isinstance(root_ctx.obj, RootOptions):
        root_ctx.obj = _state(root_ctx.obj)
    assert isinstance(root_ctx.obj, CliState)
    return root_ctx.obj


def _state(options: RootOptions) -> CliState:
    from pydantic import ValidationError

    from limen.cli._context import CliState
    from limen.config import Settings

    overrides: dict[str, object] = {}
    if options.data_dir is not None:
        overrides["data_dir"] = options.data_dir
    if options.database_url:
        overrides["database_url"] = options.database_url
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise fail(f"invalid setting LIMEN_{where.upper()}: {first.get('msg')}", 2) from None
    remote = None
    if options.server and options.token:
        from limen.cli._remote import Remote

        remote = Remote(options.server, options.token)
    return CliState(settings=settings, debug=options.debug, remote=remote)


def main() -> None:
    app()
