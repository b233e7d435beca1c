"""``limen partner …``: register security tools that may list, suspend and reactivate identities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from limen.audit import Actor
from limen.cli._context import emit_json, open_database, out_console, remote, services
from limen.cli._remote import normalise_times

if TYPE_CHECKING:
    from limen import respond
    from limen.store.models import Identity, OAuthClient

__all__ = ["app"]

app = typer.Typer(
    help="Partner integrations (SOAR, SIEM, IDS) for the Users API and Shared Signals.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _document(partner: respond.Partner) -> dict[str, Any]:
    row = partner.identity
    return {
        "id": row.id,
        "name": row.name,
        "status": str(row.status),
        "clients": [
            {
                "client_id": c.client_id,
                "scopes": list(c.scopes or []),
                "created_at": c.created_at.isoformat(),
                "revoked": c.revoked_at is not None,
            }
            for c in partner.clients
        ],
    }


_CREATED_KEYS = (
    "partner", "identity_id", "account_id", "client_id", "client_secret", "scopes",
    "token_endpoint",
)  # fmt: skip


def _wire(document: dict[str, Any]) -> dict[str, Any]:
    """The server's partner as :func:`_document` writes it."""
    return {
        "id": document["id"],
        "name": document["name"],
        "status": document["status"],
        "clients": [
            normalise_times(
                {key: c.get(key) for key in ("client_id", "scopes", "created_at", "revoked")},
                "created_at",
            )
            for c in document["clients"]
        ],
    }


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The partner's name, e.g. elastic-soar.")],
    scopes: Annotated[
        str,
        typer.Option(
            "--scopes",
            help="Comma-separated: users:read, users:suspend, users:reactivate, ssf:manage.",
        ),
    ] = "users:read",
    as_json: JsonFlag = False,
) -> None:
    """Register a partner; prints its client id and secret once."""
    if (server := remote(ctx)) is not None:
        made = server.post("/v1/partners", {"name": name, "scopes": scopes.split(",")})
        document = {key: made.get(key) for key in _CREATED_KEYS}
    else:
        row, client, secret = services(ctx).responder.register_partner(
            Actor.operator(), name, scopes=scopes.split(",")
        )
        document = _created(ctx, row, client, secret)
    if as_json:
        emit_json(document)
        return
    out_console.print(
        f"partner {document['partner']} registered (account {document['account_id']})"
    )
    out_console.print(f"client id:     {document['client_id']}")
    out_console.print(f"client secret: {document['client_secret']}")
    out_console.print("The secret is shown only now; store it in the partner's configuration.")


@app.command()
def rotate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Partner name or id.")],
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="Which client (default: the newest active).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """A new secret for a partner's client (same client id), printed once; the old secret
    stops working at once."""
    if (server := remote(ctx)) is not None:
        body = {"client_id": client_id} if client_id else None
        made = server.post(f"/v1/partners/{quote(name, safe='')}/rotate", body)
        document = {key: made.get(key) for key in _CREATED_KEYS}
    else:
        partner, client, secret = services(ctx).responder.rotate_partner(
            Actor.operator(), name, client_id=client_id
        )
        document = _created(ctx, partner.identity, client, secret)
    if as_json:
        emit_json(document)
        return
    out_console.print(f"client id:     {document['client_id']}")
    out_console.print(f"client secret: {document['client_secret']}")
    out_console.print("The secret is shown only now; the old one no longer works.")


def _created(ctx: typer.Context, row: Identity, client: OAuthClient, secret: str) -> dict[str, Any]:
    from limen import installation

    with open_database(ctx).unit_of_work(readonly=True) as uow:
        account = installation.account_id(uow.session)
    return {
        "partner": row.name,
        "identity_id": row.id,
        "account_id": account,
        "client_id": client.client_id,
        "client_secret": secret,
        "scopes": list(client.scopes or []),
        "token_endpoint": "/v1beta1/users/oauth2/token",
    }


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List partners and their OAuth clients."""
    if (server := remote(ctx)) is not None:
        documents = [_wire(p) for p in server.get("/v1/partners")]
    else:
        documents = [_document(p) for p in services(ctx).responder.list_partners(Actor.operator())]
    if as_json:
        emit_json(documents)
        return
    table = Table("name", "status", "client id", "scopes", "revoked")
    for doc in documents:
        for client in doc["clients"] or [{}]:
            table.add_row(
                doc["name"],
                doc["status"],
                client.get("client_id", ""),
                " ".join(client.get("scopes", [])),
                "yes" if client.get("revoked") else "",
            )
    out_console.print(table)


@app.command()
def streams(
    ctx: typer.Context,
    receiver: Annotated[
        str | None, typer.Option(help="Only this receiver's streams (partner name or id).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every receiver's Shared Signals streams: who receives what, how, and whether it is
    enabled (a push endpoint without credentials, query or fragment)."""
    if (server := remote(ctx)) is not None:
        found = server.get("/v1/ssf/streams", receiver=receiver)["items"]
        documents = [normalise_times(d, "created_at", "updated_at") for d in found]
    else:
        from limen.api.schemas.ssf import StreamSummary  # the API's view, credentials dropped

        rows = services(ctx).responder.ssf_streams(Actor.operator(), receiver=receiver)
        documents = []
        for stream, name in rows:
            summary = StreamSummary.from_domain(stream, name).model_dump(mode="json")
            documents.append(normalise_times(summary, "created_at", "updated_at"))
    if as_json:
        emit_json({"items": documents})
        return
    table = Table("receiver", "stream id", "delivery", "endpoint", "status", "events")
    for doc in documents:
        table.add_row(
            doc["receiver"],
            doc["stream_id"],
            doc["delivery_method"].rsplit(":", 1)[-1],
            doc["endpoint"] or "",
            doc["status"],
            str(len(doc["events_requested"])),
        )
    out_console.print(table, markup=False)


@app.command()
def revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Partner name or id.")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke every client of a partner; its tokens stop working at once."""
    if (server := remote(ctx)) is not None:
        document = _wire(server.delete(f"/v1/partners/{quote(name, safe='')}"))
    else:
        document = _document(services(ctx).responder.revoke_partner(Actor.operator(), name))
    if as_json:
        emit_json(document)
        return
    out_console.print(f"partner {document['name']}: {len(document['clients'])} client(s) revoked")
