"""``limen playbook …``: response playbooks that turn alerts into actions at machine speed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from limen.audit import Actor
from limen.cli._context import emit_json, out_console, remote, services
from limen.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(help="Response playbooks: alerts to actions.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
NameArg = Annotated[str, typer.Argument(help="The playbook's name.")]


@app.command()
def add(
    ctx: typer.Context,
    name: NameArg,
    file: Annotated[Path, typer.Argument(help="The playbook, YAML or JSON.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only record what it would do.")
    ] = False,
    live: Annotated[bool, typer.Option("--live", help="Act (overrides the file's mode).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a playbook, or replace the one of that name."""
    if dry_run and live:
        raise InvalidInput("--dry-run or --live, not both")
    if not file.is_file():
        raise InvalidInput(f"no such file: {file}")
    mode = "dry-run" if dry_run else "live" if live else None
    text = file.read_text("utf-8")
    server = remote(ctx)
    if server is not None:
        done = server.put(f"/v1/playbooks/{_segment(name)}", {"text": text, "mode": mode})
    else:
        done = services(ctx).playbooks.put(Actor.operator(), name, text, mode=mode)
    if as_json:
        emit_json(done)
        return
    out_console.print(f"playbook {done['name']} ({done['mode']}): {', '.join(done['actions'])}")


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List playbooks."""
    server = remote(ctx)
    if server is not None:
        found = server.get("/v1/playbooks")["items"]
    else:
        found = services(ctx).playbooks.list(Actor.operator())
    if as_json:
        emit_json({"items": found})
        return
    if not found:
        out_console.print("No playbooks.")
        return
    table = Table("name", "mode", "when", "actions")
    for book in found:
        table.add_row(book["name"], book["mode"], _when(book["match"]), ", ".join(book["actions"]))
    out_console.print(table)


def _segment(name: str) -> str:
    return quote(name, safe="")


def _when(match: dict[str, Any]) -> str:
    parts = [f"score ≥ {match['min_score']:g}"]
    for key in ("kinds", "reasons", "identities", "resources", "resource_tags"):
        if match.get(key):
            parts.append(f"{key}: {', '.join(match[key])}")
    return "; ".join(parts)


@app.command()
def show(ctx: typer.Context, name: NameArg, as_json: JsonFlag = False) -> None:
    """Show a playbook."""
    server = remote(ctx)
    if server is not None:
        book = server.get(f"/v1/playbooks/{_segment(name)}")
    else:
        book = services(ctx).playbooks.get(Actor.operator(), name)
    if as_json:
        emit_json(book)
        return
    out_console.print(f"{book['name']} ({book['mode']}): {book['description']}")
    out_console.print(f"  when {_when(book['match'])}")
    out_console.print(f"  then {', '.join(book['actions'])}")
    if book.get("ssf"):
        out_console.print(f"  notify also sends the Shared Signals event {book['ssf']}")


@app.command()
def remove(ctx: typer.Context, name: NameArg) -> None:
    """Remove a playbook."""
    server = remote(ctx)
    if server is not None:
        server.delete(f"/v1/playbooks/{_segment(name)}")
    else:
        services(ctx).playbooks.remove(Actor.operator(), name)
    out_console.print(f"removed playbook {name}")


@app.command()
def test(
    ctx: typer.Context,
    name: NameArg,
    alert: Annotated[str, typer.Option("--alert", help="An alert id (`limen alert list`).")],
    as_json: JsonFlag = False,
) -> None:
    """Say what a playbook would do for an alert already raised; nothing changes."""
    server = remote(ctx)
    if server is not None:
        result = server.post(f"/v1/playbooks/{_segment(name)}/test", {"alert": alert})
    else:
        result = services(ctx).playbooks.test(Actor.operator(), name, alert)
    if as_json:
        emit_json(result)
        return
    if result["matches"]:
        out_console.print(
            f"{name} matches alert {alert} of {result['identity']}: "
            f"would {', '.join(result['would'])} ({result['mode']})"
        )
    else:
        out_console.print(f"{name} does not match alert {alert} of {result['identity']}")
