"""``limen token …``: issue, list and revoke personal and admin tokens."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from limen.audit import Actor
from limen.cli._context import emit_json, out_console, remote, services
from limen.cli._remote import normalise_times
from limen.durations import parse_duration

if TYPE_CHECKING:
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
    server = remote(ctx)
    if server is None:
        issued = services(ctx).api_tokens.create(
            Actor.operator(),
            identity_ref,
            scopes=scopes.split(","),
            expires_in=parse_duration(expires_in) if expires_in else None,
            name=name,
        )
        document = {**token_document(issued.info), "token": issued.token}
    else:
        body = {"identity": identity_ref, "scopes": scopes.split(","), "name": name}
        if expires_in:
            body["expires_in"] = expires_in
        document = _wire(server.post("/v1/tokens", body))
    if as_json:
        emit_json(document)
        return
    out_console.print(
        f"token {document['id']} for {document['identity']} (shown once, store it now):"
    )
    typer.echo(document["token"])


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
    found = _list(ctx, identity_ref=identity_ref, include_revoked=include_revoked)
    if as_json:
        emit_json({"items": found})
        return
    table = Table("id", "identity", "purpose", "name", "scopes", "state", "expires", "last used")
    for info in found:
        table.add_row(
            info["id"],
            info["identity"],
            info["purpose"],
            info["name"] or "",
            ",".join(info["scopes"]),
            info["state"],
            _minute(info["expires_at"]) or "never",
            _minute(info["last_used_at"]),
        )
    out_console.print(table)


def _list(ctx: typer.Context, *, identity_ref: str | None, include_revoked: bool) -> list[Any]:
    server = remote(ctx)
    if server is None:
        found = services(ctx).api_tokens.list(
            Actor.operator(), identity_ref=identity_ref, include_revoked=include_revoked
        )
        return [token_document(info) for info in found]
    answer = server.get("/v1/tokens", identity=identity_ref, include_revoked=include_revoked)
    return [_wire(item) for item in answer["items"]]


def _wire(document: dict[str, Any]) -> dict[str, Any]:
    """The server's token document as :func:`token_document` writes it."""
    return normalise_times(document, "created_at", "expires_at", "revoked_at", "last_used_at")


def _minute(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M") if iso else ""


@app.command()
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="Token id (see `limen token list`).")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the event log).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke a token: it stops working on every node at once."""
    server = remote(ctx)
    if server is None:
        info = token_document(
            services(ctx).api_tokens.revoke(Actor.operator(), token_id, reason=reason)
        )
    else:
        server.delete(f"/v1/tokens/{quote(token_id, safe='')}", reason=reason)
        revoked = _list(ctx, identity_ref=None, include_revoked=True)
        info = next(t for t in revoked if t["id"] == token_id)
    if as_json:
        emit_json(info)
        return
    out_console.print(f"revoked token {info['id']} of {info['identity']}")
