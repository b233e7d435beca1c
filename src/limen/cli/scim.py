"""``limen scim …``: connect an identity provider (Okta, Entra ID…) to ``/scim/v2``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from limen.audit import Actor
from limen.cli._context import emit_json, out_console, remote, services
from limen.lifecycle import orphans_policy

__all__ = ["app"]

app = typer.Typer(
    help="SCIM provisioning: tokens for the identity provider, group-to-role mapping.",
    no_args_is_help=True,
)
token_app = typer.Typer(help="Bearer tokens for the identity provider.", no_args_is_help=True)
app.add_typer(token_app, name="token")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Option("--name", help="The connection, e.g. okta or entra.")
    ] = "idp",
    orphans: Annotated[
        str | None,
        typer.Option(
            help="What deprovisioning through this token does with the person's agents and "
            "services: suspend, transfer-to-manager or keep (default: LIMEN_ORPHANS)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue a bearer token with the scim:write scope; its value is printed once."""
    document: dict[str, Any]
    if orphans is not None:
        orphans_policy(orphans)
    if (server := remote(ctx)) is not None:
        document = server.post("/v1/scim/tokens", {"name": name, "orphans": orphans})
    else:
        state = services(ctx)
        holder, token_id, raw = state.provisioning.issue_token(
            Actor.operator(), name, orphans=orphans
        )
        document = {
            "identity": holder.name,
            "identity_id": holder.id,
            "token_id": token_id,
            "token": raw,
            "scopes": ["scim:write"],
            "base_url": state.settings.resolved_public_url.rstrip("/") + "/scim/v2",
            "orphans": orphans,
        }
    base, raw = document["base_url"], document["token"]
    if as_json:
        emit_json(document)
        return
    out_console.print(f"SCIM base URL: {base}")
    out_console.print(f"bearer token:  {raw}")
    if document.get("orphans"):
        out_console.print(f"orphans:       {document['orphans']} (people it deprovisions)")
    out_console.print("The token is shown only now; paste it into the identity provider.")


@app.command("group-role")
def group_role(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="The group's displayName in the identity provider.")],
    roles: Annotated[
        list[str] | None, typer.Argument(help="Limen roles its members get (none: no role).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make a provisioned group grant Limen roles; its members' roles follow at once."""
    document: dict[str, Any]
    if (server := remote(ctx)) is not None:
        path = f"/v1/scim/group-roles/{quote(group, safe='')}"
        document = server.put(path, {"roles": roles or []})
    else:
        record = services(ctx).provisioning.grant_roles(Actor.operator(), group, roles or [])
        document = {
            "group": record.display_name,
            "id": record.id,
            "roles": list(record.roles),
            "members": [name for _, name in record.members],
        }
    if as_json:
        emit_json(document)
        return
    granted = ", ".join(document["roles"]) or "no role"
    out_console.print(
        f"group {document['group']!r} grants {granted} to {len(document['members'])} member(s)"
    )
