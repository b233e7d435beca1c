"""``limen threat …``: the platform-wide threat level."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from limen.audit import Actor
from limen.cli._context import emit_json, out_console, remote, services

__all__ = ["app"]

app = typer.Typer(help="The platform-wide threat level.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _print(document: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(document)
        return
    why = f" ({document['reason']})" if document["reason"] else ""
    out_console.print(
        f"threat level: {document['level']}{why}; access tokens live "
        f"{document['token_lifetime_scale']:.0%} of their lifetime"
    )


@app.command()
def show(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the threat level."""
    server = remote(ctx)
    if server is not None:
        _print(server.get("/v1/threat-level"), as_json)
    else:
        _print(services(ctx).threat.get(Actor.operator()).to_document(), as_json)


@app.command("set")
def set_(
    ctx: typer.Context,
    level: Annotated[str, typer.Argument(help="normal, elevated, high or critical.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the event log).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set the threat level: decisions and token lifetimes tighten on every node at once."""
    server = remote(ctx)
    if server is not None:
        _print(server.put("/v1/threat-level", {"level": level, "reason": reason}), as_json)
    else:
        threat = services(ctx).threat.set(Actor.operator(), level, reason=reason)
        _print(threat.to_document(), as_json)
