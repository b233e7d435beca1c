"""``limen client …``: register, list and revoke OAuth clients for identities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from limen.audit import Actor
from limen.cli._context import emit_json, out_console, remote, services
from limen.cli._remote import Remote, normalise_times
from limen.errors import InvalidInput

if TYPE_CHECKING:
    from limen.store.models import OAuthClient

__all__ = ["app"]

app = typer.Typer(
    help="Manage OAuth clients (client_credentials, token exchange).", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def client_document(client: OAuthClient, *, identity_name: str | None = None) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "identity_id": client.identity_id,
        "identity": identity_name,
        "auth_method": client.auth_method,
        "scopes": list(client.scopes or []),
        "created_at": client.created_at.isoformat(),
        "revoked_at": client.revoked_at.isoformat() if client.revoked_at else None,
    }


@app.command()
def create(
    ctx: typer.Context,
    identity_ref: Annotated[
        str, typer.Option("--identity", help="Identity the client acts as (id, name or email).")
    ],
    scopes: Annotated[
        str, typer.Option("--scopes", help="Comma-separated scopes the client may be granted.")
    ] = "",
    auth_method: Annotated[
        str,
        typer.Option(
            "--auth-method",
            help="client_secret_basic, client_secret_post or private_key_jwt.",
        ),
    ] = "client_secret_basic",
    jwks_file: Annotated[
        Path | None,
        typer.Option("--jwks-file", help="Public JWK Set file (private_key_jwt clients)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name to recognise the client by.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a client; its secret is printed once and never again."""
    document = _clients(ctx).register(
        identity_ref,
        scopes=[s for s in scopes.split(",") if s.strip()],
        auth_method=auth_method,
        name=name,
        jwks=_read_jwks(jwks_file),
    )
    secret = document["client_secret"]
    if as_json:
        emit_json(document)
        return
    out_console.print(f"client_id      {document['client_id']}")
    out_console.print(f"identity       {document['identity']}")
    out_console.print(f"auth method    {document['auth_method']}")
    out_console.print(f"scopes         {' '.join(document['scopes']) or '(none)'}")
    if secret:
        out_console.print("client_secret  (shown once, store it now):")
        typer.echo(secret)


@app.command("list")
def list_(
    ctx: typer.Context,
    identity_ref: Annotated[
        str | None, typer.Option("--identity", help="Only this identity's clients.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List clients (never their secrets)."""
    documents = _clients(ctx).list(identity_ref)
    if as_json:
        emit_json({"items": documents})
        return
    table = Table("client_id", "identity", "auth method", "scopes", "status")
    for doc in documents:
        table.add_row(
            doc["client_id"],
            doc["identity"],
            doc["auth_method"],
            " ".join(doc["scopes"]),
            "revoked" if doc["revoked_at"] else "active",
        )
    out_console.print(table)


@app.command()
def rotate(
    ctx: typer.Context,
    client_id: Annotated[str, typer.Argument(help="The client id.")],
    as_json: JsonFlag = False,
) -> None:
    """Give a client a new secret, printed once; the old one stops working at once."""
    document = _clients(ctx).rotate(client_id)
    if as_json:
        emit_json(document)
        return
    out_console.print(f"client_id      {document['client_id']}")
    out_console.print("client_secret  (shown once, store it now):")
    typer.echo(document["client_secret"])


@app.command()
def revoke(
    ctx: typer.Context,
    client_id: Annotated[str, typer.Argument(help="The client id.")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a client: it authenticates no more and its tokens stop working at once."""
    document = _clients(ctx).revoke(client_id)
    if as_json:
        emit_json(document)
    else:
        out_console.print(f"revoked {client_id}")


class _Local:
    """The data dir, as the operator."""

    def __init__(self, ctx: typer.Context) -> None:
        self._clients = services(ctx).clients
        self._directory = services(ctx).directory

    def register(self, identity_ref: str, *, name: str | None, **fields: Any) -> dict[str, Any]:
        operator = Actor.operator()
        who = self._directory.get(operator, identity_ref)
        client, secret = self._clients.register(operator, who.id, name=name or who.name, **fields)
        return {**client_document(client, identity_name=who.name), "client_secret": secret}

    def list(self, identity_ref: str | None) -> list[dict[str, Any]]:
        rows = self._clients.list(Actor.operator(), identity_ref=identity_ref)
        return [client_document(client, identity_name=name) for client, name in rows]

    def rotate(self, client_id: str) -> dict[str, Any]:
        operator = Actor.operator()
        client, secret = self._clients.rotate(operator, client_id)
        _, holder = self._clients.get(operator, client_id)
        return {**client_document(client, identity_name=holder), "client_secret": secret}

    def revoke(self, client_id: str) -> dict[str, Any]:
        operator = Actor.operator()
        client = self._clients.revoke(operator, client_id)
        _, holder = self._clients.get(operator, client_id)
        return client_document(client, identity_name=holder)


class _Remote:
    """``/v1/clients`` on the server, as the token's identity."""

    def __init__(self, server: Remote) -> None:
        self._server = server

    def register(self, identity_ref: str, *, name: str | None, **fields: Any) -> dict[str, Any]:
        if name is None:  # named after its identity, as on the server host
            name = self._server.get(f"/v1/identities/{quote(identity_ref, safe='@')}")["name"]
        body = {"identity": identity_ref, "name": name, **fields}
        created = self._server.post("/v1/clients", body)
        return {**_wire(created), "client_secret": created.get("client_secret")}

    def list(self, identity_ref: str | None) -> list[dict[str, Any]]:
        return [_wire(c) for c in self._server.get("/v1/clients", identity=identity_ref)["items"]]

    def rotate(self, client_id: str) -> dict[str, Any]:
        rotated = self._server.post(f"/v1/clients/{quote(client_id, safe='')}/rotate")
        return {**_wire(rotated), "client_secret": rotated.get("client_secret")}

    def revoke(self, client_id: str) -> dict[str, Any]:
        return _wire(self._server.delete(f"/v1/clients/{quote(client_id, safe='')}"))


def _wire(document: dict[str, Any]) -> dict[str, Any]:
    """The server's client as :func:`client_document` writes it."""
    shaped = {key: document.get(key) for key in _DOCUMENT_KEYS}
    return normalise_times(shaped, "created_at", "revoked_at")


_DOCUMENT_KEYS = (
    "client_id", "name", "identity_id", "identity", "auth_method", "scopes", "created_at",
    "revoked_at",
)  # fmt: skip


def _clients(ctx: typer.Context) -> _Local | _Remote:
    server = remote(ctx)
    return _Local(ctx) if server is None else _Remote(server)


def _read_jwks(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise InvalidInput(f"{path} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{path} must hold a JWK Set object")
    return value
