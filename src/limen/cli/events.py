"""``limen events list``: read the event log back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Column, Table

from limen.audit import EventFilter, list_events
from limen.audit.documents import event_document
from limen.cli._context import emit_json, open_database, out_console
from limen.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(help="Read the event log.", no_args_is_help=True)


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{option} must be an ISO 8601 time, e.g. 2026-11-28T12:00:00Z"
        ) from None


@app.command("list")
def list_(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option(help="Only events by this identity id.")] = None,
    action: Annotated[
        str | None, typer.Option(help="Action, or a family like 'identity.*'.")
    ] = None,
    resource_type: Annotated[str | None, typer.Option(help="Only this resource type.")] = None,
    resource_id: Annotated[str | None, typer.Option(help="Only this resource id.")] = None,
    outcome: Annotated[str | None, typer.Option(help="success, failure or denied.")] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Page size.")] = 100,
    cursor: Annotated[str | None, typer.Option(help="Continue after this cursor.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """List events, oldest first."""
    filters = EventFilter(
        actor_id=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
    )
    db = open_database(ctx)
    with db.unit_of_work(readonly=True) as uow:
        page = list_events(uow.session, filters, after=cursor, limit=limit)
        documents = [event_document(e) for e in page.events]
    if as_json:
        emit_json({"items": documents, "next_cursor": page.next_cursor})
        return
    # Actions and ids are what people grep for: never cut them with an ellipsis.
    table = Table(
        Column("time"),
        Column("actor", overflow="fold"),
        Column("action", no_wrap=True),
        Column("resource", overflow="fold"),
        Column("outcome", no_wrap=True),
        Column("reason", overflow="fold"),
    )
    for doc in documents:
        resource = doc["resource"]
        table.add_row(
            doc["occurred_at"][:19].replace("T", " "),
            f"{doc['actor']['name']} ({doc['actor']['kind']})",
            doc["action"],
            f"{resource['type'] or ''}:{resource['name'] or resource['id'] or ''}",
            doc["outcome"],
            doc["reason"] or "",
        )
    out_console.print(table)
    if page.next_cursor:
        out_console.print(f"more: --cursor {page.next_cursor}")
