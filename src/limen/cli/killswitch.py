"""``limen killswitch …``: suspend every agent (or service) at once, and undo exactly that."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from limen.audit import Actor
from limen.cli._context import emit_json, out_console, services

__all__ = ["app"]

app = typer.Typer(
    help="Kill switch: suspend all agents (or services) at once; disengage undoes only that.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
KindOption = Annotated[str, typer.Option("--kind", help="agent or service.")]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Why (recorded in the event log).")
]


@app.command()
def engage(
    ctx: typer.Context,
    kind: KindOption = "agent",
    reason: ReasonOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Suspend every active identity of KIND now."""
    switch, suspended = services(ctx).responder.engage(Actor.operator(), kind=kind, reason=reason)
    if as_json:
        emit_json({"id": switch.id, "kind": switch.target_kind, "suspended": suspended})
        return
    out_console.print(
        f"kill switch {switch.id} engaged for {switch.target_kind}s: {len(suspended)} suspended now"
    )


@app.command()
def disengage(
    ctx: typer.Context,
    kind: KindOption = "agent",
    reason: ReasonOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Reactivate what the kill switch suspended, unless someone changed it since."""
    switch, back, left = services(ctx).responder.disengage(
        Actor.operator(), kind=kind, reason=reason
    )
    if as_json:
        emit_json(
            {"id": switch.id, "kind": switch.target_kind, "reactivated": back, "left_alone": left}
        )
        return
    out_console.print(
        f"kill switch {switch.id} disengaged: {len(back)} reactivated, "
        f"{len(left)} left as they are (changed since)"
    )


@app.command()
def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the engaged kill switches."""
    engaged = services(ctx).responder.kill_switches(Actor.operator())
    documents = [
        {
            "id": switch.id,
            "kind": switch.target_kind,
            "reason": switch.reason,
            "engaged_at": switch.engaged_at.isoformat(),
            "engaged_by": switch.engaged_by,
            "held": held,
        }
        for switch, held in engaged
    ]
    if as_json:
        emit_json(documents)
        return
    if not documents:
        out_console.print("no kill switch is engaged")
        return
    table = Table("id", "kind", "held", "engaged at", "by", "reason")
    for doc in documents:
        table.add_row(
            doc["id"],
            doc["kind"],
            str(doc["held"]),
            doc["engaged_at"],
            doc["engaged_by"],
            doc["reason"] or "",
        )
    out_console.print(table)
