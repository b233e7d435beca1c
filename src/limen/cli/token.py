"""``limen token …``: issue, list and revoke personal and admin tokens."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from limen.audit import Actor
from limen.cli._context import emit_json, out_console, services
from limen.durations import parse_duration
from limen.identity import TokenInfo

__all__ = ["app"]

app = typer.Typer(
    help="Personal and admin tokens: issue (shown once), list, revoke.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def token_document(info: TokenInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "identity_id": info.identity_id,
        "identity": info.identity_name,
        "purpose": info.purpose,
        "name": info.name,
        "prefix": info.prefix,
        "scopes": list(info.scopes),
        "state": info.state,
        "created_at": info.created_at.isoformat(),
        "expires_at": info.expires_at.isoformat() if info.expires_at else None,
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "last_used_at": info.last_used_at.isoformat() if info.last_used_at else None,
    }


@app.command()
def create(
    ctx: typer.Context,
    identity_ref: Annotated[
        str, typer.Option("--identity", help="Whose token (id, name or email).")
    ],
    scopes: Annotated[
        str,
        typer.Option(
            "--scopes", help="Comma-separated scopes; '*' (default) is bounded by the roles."
        ),
    ] = "*",
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime, e.g. 8h, 30d (none: no expiry).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name to recognise it by.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue a token for an identity; its value is printed once and never stored."""
    issued = services(ctx).api_tokens.create(
        Actor.operator(),
        identity_ref,
        scopes=scopes.split(","),
        expires_in=parse_duration(expires_in) if expires_in else None,
        name=name,
    )
    if as_json:
        emit_json({**token_document(issued.info), "token": issued.token})
        return
    out_console.print(
        f"token {issued.info.id} for {issued.info.identity_name} (shown once, store it now):"
    )
    typer.echo(issued.token)


@app.command("list")
def list_(
    ctx: typer.Context,
    identity_ref: Annotated[
        str | None, typer.Option("--identity", help="Only this identity's tokens.")
    ] = None,
    include_revoked: Annotated[
        bool, typer.Option("--include-revoked", help="Show revoked tokens too.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List tokens (metadata only: never a value)."""
    found = services(ctx).api_tokens.list(
        Actor.operator(), identity_ref=identity_ref, include_revoked=include_revoked
    )
    if as_json:
        emit_json({"items": [token_document(info) for info in found]})
        return
    table = Table("id", "identity", "purpose", "name", "scopes", "state", "expires", "last used")
    for info in found:
        table.add_row(
            info.id,
            info.identity_name,
            info.purpose,
            info.name or "",
            ",".join(info.scopes),
            info.state,
            info.expires_at.strftime("%Y-%m-%d %H:%M") if info.expires_at else "never",
            info.last_used_at.strftime("%Y-%m-%d %H:%M") if info.last_used_at else "",
        )
    out_console.print(table)


@app.command()
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="Token id (see `limen token list`).")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the event log).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke a token: it stops working on every node at once."""
    info = services(ctx).api_tokens.revoke(Actor.operator(), token_id, reason=reason)
    if as_json:
        emit_json(token_document(info))
        return
    out_console.print(f"revoked token {info.id} of {info.identity_name}")
