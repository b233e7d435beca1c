"""``limen resource …``: operator tags on resources outside Limen (``db:payments-prod``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from limen.audit import Actor
from limen.cli._context import emit_json, out_console, remote, services

__all__ = ["app"]

app = typer.Typer(
    help="Tag resources (db:payments-prod is sensitive) for playbooks and the access review.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
RefArg = Annotated[str, typer.Argument(help="The resource as events name it: type:id.")]
TagsArg = Annotated[list[str], typer.Argument(help="One or more tags.")]


def _print(document: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(document)
        return
    tags = ", ".join(document["tags"]) or "no tags"
    out_console.print(f"{document['resource']}: {tags}")


@app.command()
def tag(ctx: typer.Context, resource: RefArg, tags: TagsArg, as_json: JsonFlag = False) -> None:
    """Give a resource one or more tags."""
    server = remote(ctx)
    body = {"resource": resource, "tags": tags}
    if server is not None:
        _print(server.post("/v1/resources/tag", body), as_json)
    else:
        _print(services(ctx).resource_tags.tag(Actor.operator(), resource, tags), as_json)


@app.command()
def untag(ctx: typer.Context, resource: RefArg, tags: TagsArg, as_json: JsonFlag = False) -> None:
    """Take tags off a resource."""
    server = remote(ctx)
    body = {"resource": resource, "tags": tags}
    if server is not None:
        _print(server.post("/v1/resources/untag", body), as_json)
    else:
        _print(services(ctx).resource_tags.untag(Actor.operator(), resource, tags), as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    tag: Annotated[str | None, typer.Option("--tag", help="Only resources with this tag.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List tagged resources."""
    server = remote(ctx)
    if server is not None:
        found = server.get("/v1/resources", **({"tag": tag} if tag else {}))["items"]
    else:
        found = services(ctx).resource_tags.list(Actor.operator(), tag=tag)
    if as_json:
        emit_json({"items": found})
        return
    if not found:
        out_console.print("No tagged resources.")
        return
    table = Table("resource", "tags")
    for entry in found:
        table.add_row(entry["resource"], ", ".join(entry["tags"]))
    out_console.print(table)
