"""The ``limen`` command: the root app, global options and the sub-command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from limen import __version__
from limen.cli import audit, detect, events, identity, killswitch, run, scan, setup, vault
from limen.cli import client as client_cli
from limen.cli import partner as partner_cli
from limen.cli import policy as policy_cli
from limen.cli._context import CliState
from limen.cli._errors import LimenGroup, fail
from limen.config import Settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="limen",
    cls=LimenGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Limen: secure every identity — people, services and AI agents — in one place.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url:
        overrides["database_url"] = database_url
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise fail(f"invalid setting LIMEN_{where.upper()}: {first.get('msg')}", 2) from None
    ctx.obj = CliState(settings=settings, debug=debug)


setup.register(app)
app.add_typer(identity.app, name="identity")
app.add_typer(events.app, name="events")
app.add_typer(killswitch.app, name="killswitch")
app.add_typer(partner_cli.app, name="partner")
audit.register(app)
app.add_typer(client_cli.app, name="client")
app.add_typer(policy_cli.app, name="policy")
app.add_typer(vault.vault_app, name="vault")
app.add_typer(vault.item_app, name="item")
app.add_typer(vault.service_account_app, name="service-account")
run.register(app)
scan.register(app)
app.add_typer(detect.app, name="detect")


def main() -> None:
    app()
