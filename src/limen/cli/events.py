"""``limen events list``: read the event log back, the oldest or the newest, or follow it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Column, Table

from limen.cli._context import emit_json, open_database, out_console, remote
from limen.cli._remote import Remote, normalise_times
from limen.errors import InvalidInput, NotFound
from limen.ids import is_id

if TYPE_CHECKING:
    from limen.audit import EventFilter
    from limen.store import Database

__all__ = ["app", "event_from_wire"]

app = typer.Typer(help="Read the event log.", no_args_is_help=True)

FOLLOW_INTERVAL = 1.0
"""Seconds between looks at the log while following it."""


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{option} must be an ISO 8601 time, e.g. 2026-11-28T12:00:00Z"
        ) from None


def _actor_id(db: Database, ref: str | None) -> str | None:
    """The id of the identity named by id, name or email.

    An id that names no identity (any more) is used as it is: its events outlive it.
    """
    if ref is None:
        return None
    from limen import identity

    with db.unit_of_work(readonly=True) as uow:
        try:
            return identity.get(uow.session, ref).id
        except identity.IdentityNotFound:
            if is_id(ref):
                return ref
            raise


@app.command("list")
def list_(
    ctx: typer.Context,
    actor: Annotated[
        str | None, typer.Option(help="Only events by this identity (id, name or email).")
    ] = None,
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
    newest: Annotated[
        bool, typer.Option("--newest", help="The newest LIMIT events instead of the oldest.")
    ] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Show the newest, then each new event as it comes (Ctrl-C ends)."
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON document (with --follow, one per event)."),
    ] = False,
) -> None:
    """List events, oldest first (--newest: the latest ones; --follow: keep watching)."""
    if cursor and (newest or follow):
        raise InvalidInput("--cursor pages from the oldest; leave it out with --newest or --follow")
    server = remote(ctx)
    if server is not None:
        remotely = dict(
            actor_id=_actor_id_remotely(server, actor),
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            outcome=outcome,
            since=_parse_time(since, "--since"),
            until=_parse_time(until, "--until"),
        )
        shown = _read_remotely(
            server,
            **remotely,
            cursor=cursor,
            limit=limit,
            order="newest" if newest or follow else None,
        )
        if follow:
            _follow(
                lambda after: _read_remotely(server, **remotely, cursor=after, limit=1000),
                shown,
                as_json=as_json,
            )
            return
        _show(shown, cursor=cursor, as_json=as_json)
        return
    from limen.audit import EventFilter

    db = open_database(ctx)
    filters = EventFilter(
        actor_id=_actor_id(db, actor),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
    )
    shown = _read(db, filters, cursor=cursor, limit=limit, newest=newest or follow)
    if follow:
        _follow(lambda after: _read(db, filters, cursor=after, limit=1000), shown, as_json=as_json)
        return
    _show(shown, cursor=cursor, as_json=as_json)


def _show(shown: _Shown, *, cursor: str | None, as_json: bool) -> None:
    if as_json:
        emit_json({"items": shown.documents, "next_cursor": shown.next_cursor})
        return
    if not shown.documents:
        out_console.print("No events match." if cursor is None else "No more events.")
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
    for doc in shown.documents:
        table.add_row(*_cells(doc))
    out_console.print(table)
    if shown.next_cursor:
        out_console.print(f"more: --cursor {shown.next_cursor}")


@dataclass(frozen=True, slots=True)
class _Shown:
    documents: list[dict[str, Any]]
    next_cursor: str | None
    end_cursor: str | None


def _read(
    db: Database,
    filters: EventFilter,
    *,
    cursor: str | None,
    limit: int,
    newest: bool = False,
) -> _Shown:
    from limen.audit import list_events, newest_events
    from limen.audit.documents import event_document

    with db.unit_of_work(readonly=True) as uow:
        if newest:
            page = newest_events(uow.session, filters, limit=limit)
        else:
            page = list_events(uow.session, filters, after=cursor, limit=limit)
        documents = [event_document(e) for e in page.events]
    return _Shown(documents, page.next_cursor, page.end_cursor)


def _actor_id_remotely(server: Remote, actor: str | None) -> str | None:
    """As :func:`_actor_id`, through ``GET /v1/identities/{ref}``."""
    if actor is None:
        return None
    try:
        return str(server.get(f"/v1/identities/{quote(actor, safe='@')}")["id"])
    except NotFound:
        if not is_id(actor):
            raise
        return actor


def _read_remotely(
    server: Remote,
    *,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
    **filters: str | None,
) -> _Shown:
    """The same page from ``GET /v1/events``."""
    page = server.get(
        "/v1/events",
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        cursor=cursor,
        limit=limit,
        **filters,
    )
    documents = [event_from_wire(doc) for doc in page["items"]]
    # A server older than `end_cursor` still continues from `next_cursor` (or the start).
    return _Shown(documents, page["next_cursor"], page.get("end_cursor", page["next_cursor"]))


def event_from_wire(doc: dict[str, Any]) -> dict[str, Any]:
    """An event of ``GET /v1/events`` as the local commands print it (event_document)."""
    resource = doc.get("resource") or {"type": None, "id": None, "name": None}
    shaped = {
        "id": doc["id"],
        "seq": doc["seq"],
        "chain_position": doc.get("chain_position"),
        "link": doc.get("link"),
        "occurred_at": doc["occurred_at"],
        "actor": doc["actor"],
        "delegation": doc["delegation"],
        "token_id": doc["token_id"],
        "action": doc["action"],
        "resource": resource,
        "outcome": doc["outcome"],
        "reason": doc["reason"],
        "context": doc["context"],
    }
    return normalise_times(shaped, "occurred_at")


def _cells(doc: dict[str, Any]) -> tuple[str, ...]:
    resource = doc["resource"]
    return (
        doc["occurred_at"][:19].replace("T", " "),
        f"{doc['actor']['name']} ({doc['actor']['kind']})",
        doc["action"],
        f"{resource['type'] or ''}:{resource['name'] or resource['id'] or ''}",
        doc["outcome"],
        doc["reason"] or "",
    )


def _follow(read_after: Callable[[str | None], _Shown], shown: _Shown, *, as_json: bool) -> None:
    """Print events as they are appended, like ``tail -f``, until interrupted (Ctrl-C ends
    it with exit 0: following has no other end). ``read_after`` reads the data dir or, in
    remote mode, polls ``GET /v1/events`` with the cursor after the last event shown."""
    cursor = shown.end_cursor
    try:
        while True:
            for doc in shown.documents:
                if as_json:
                    typer.echo(json.dumps(doc))
                else:
                    typer.echo("  ".join(cell for cell in _cells(doc) if cell))
            if shown.end_cursor is not None:
                cursor = shown.end_cursor
            time.sleep(FOLLOW_INTERVAL)
            shown = read_after(cursor)
    except KeyboardInterrupt:
        return
