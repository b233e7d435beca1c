"""``limen threat …``: the platform-wide threat level."""

from __future__ import annotations

from typing import Annotated

import typer

from limen.audit import Actor
from limen.cli._context import emit_json, out_console, services
from limen.respond.threat import Threat

__all__ = ["app"]

app = typer.Typer(help="The platform-wide threat level.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _print(threat: Threat, as_json: bool) -> None:
    document = threat.to_document()
    if as_json:
        emit_json(document)
        return
    why = f" ({threat.reason})" if threat.reason else ""
    out_console.print(
        f"threat level: {threat.level}{why}; access tokens live "
        f"{document['token_lifetime_scale']:.0%} of their lifetime"
    )


@app.command()
def show(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the threat level."""
    _print(services(ctx).threat.get(Actor.operator()), as_json)


@app.command("set")
def set_(
    ctx: typer.Context,
    level: Annotated[str, typer.Argument(help="normal, elevated, high or critical.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the event log).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set the threat level: decisions and token lifetimes tighten on every node at once."""
    _print(services(ctx).threat.set(Actor.operator(), level, reason=reason), as_json)
