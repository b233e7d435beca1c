"""``limen audit …``, ``limen events-token …`` and ``limen sink …``: the audit trail."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from limen.audit import Actor, SignedCheckpoint, export_checkpoints, load_checkpoints
from limen.audit.sinks import SINK_KINDS
from limen.cli._confirm import ReasonOption, YesFlag, confirm, require_reason
from limen.cli._context import emit_json, open_database, out_console, remote, state
from limen.cli._remote import normalise_times
from limen.cli.events import event_from_wire
from limen.errors import InvalidInput, unknown_choice

if TYPE_CHECKING:
    from limen.audit import AuditKeys
    from limen.store import Database

__all__ = ["app", "events_token_app", "register", "sink_app"]

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
events_token_app = typer.Typer(help="Tokens for the Events-API feed.", no_args_is_help=True)
sink_app = typer.Typer(help="Push sinks for the audit trail.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit")
    root.add_typer(events_token_app, name="events-token")
    root.add_typer(sink_app, name="sink")


def _keys(ctx: typer.Context) -> AuditKeys:
    """The audit keys, once checked to be the ones the trail was written with: a wrong
    key must never link, sign or derive a sink's secret."""
    from limen.audit import AuditKeys, check_key

    path = state(ctx).settings.resolved_key_file
    keys = AuditKeys.from_key_file(path)
    check_key(open_database(ctx), keys, key_file=path)
    return keys


def _linked(ctx: typer.Context) -> tuple[Database, AuditKeys]:
    from limen.audit import link_pending

    db = open_database(ctx)
    keys = _keys(ctx)
    link_pending(db, keys.chain)
    return db, keys


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{option} must be an ISO 8601 time, e.g. 2026-11-28T12:00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@app.command("verify")
def verify_(
    ctx: typer.Context,
    checkpoints: Annotated[
        Path | None,
        typer.Option("--checkpoints", help="Also check against the checkpoint files in DIR."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Start after the last verified checkpoint.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes for a long chain (each takes 100,000+ events on SQLite, "
            "250,000+ on PostgreSQL).",
        ),
    ] = os.cpu_count() or 1,
    as_json: JsonFlag = False,
) -> None:
    """Recompute every link; report the first bad event by id. Exits 1 if the trail is bad.

    Remotely the server verifies its own chain (``POST /v1/audit/verify``), against the
    checkpoint files in ``--checkpoints`` too; ``--workers`` is the server's business."""
    external = load_checkpoints(checkpoints) if checkpoints else ()
    if (server := remote(ctx)) is not None:
        body = {"resume": resume, "checkpoints": [c.to_document() for c in external]}
        report: dict[str, Any] = server.post("/v1/audit/verify", body)
    else:
        from limen.audit import verify

        db, keys = _linked(ctx)
        found = verify(db, keys, external=external, resume=resume, workers=workers)
        report = dict(found.to_document())
    if as_json:
        emit_json(report)
    elif report["ok"]:
        start = f" from checkpoint at {report['resumed_from']}" if report["resumed_from"] else ""
        out_console.print(
            f"ok: {report['checked']} events verified{start} (positions "
            f"{report['first_position']}-{report['last_position']}), "
            f"{report['checkpoints']} signed checkpoints agree"
        )
        for warning in report["warnings"]:
            out_console.print(f"warning: {warning}")
    if not report["ok"]:
        problem = report["problem"]
        assert problem is not None
        if not as_json:
            at = problem["position"]
            where = f"at position {at}" if at else "(never linked)"
            typer.echo(
                f"limen: audit trail broken: {problem['kind']} event {problem['event_id']} "
                f"{where}: {problem['detail']}",
                err=True,
            )
        raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    export: Annotated[
        Path | None, typer.Option("--export", help="Write every checkpoint as a file in DIR.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Sign the chain head now (Ed25519), optionally exporting checkpoints to a directory.

    Remotely the server signs with its key (``POST /v1/audit/checkpoints``) and
    ``--export`` writes the checkpoints here, where the server cannot rewrite them."""
    written: list[Path] = []
    if (server := remote(ctx)) is not None:
        made = server.post("/v1/audit/checkpoints")["checkpoint"]
        signed = SignedCheckpoint.from_document(made) if made else None
        if export is not None:
            every = [SignedCheckpoint.from_document(d) for d in server.get("/v1/audit/checkpoints")]
            written = export_checkpoints(every, export)
    else:
        from limen.audit import create_checkpoint, list_checkpoints

        db, keys = _linked(ctx)
        signed = create_checkpoint(db, keys)
        if export is not None:
            with db.unit_of_work(readonly=True) as uow:
                written = export_checkpoints(list_checkpoints(uow.session), export)
    if as_json:
        emit_json(
            {
                "checkpoint": signed.to_document() if signed else None,
                "exported": [str(p) for p in written],
            }
        )
        return
    if signed is None:
        out_console.print("nothing to sign: the log is empty")
        return
    out_console.print(
        f"checkpoint {signed.id}: position {signed.position}, event {signed.event_id}"
    )
    for path in written:
        out_console.print(f"wrote {path}")


@app.command("checkpoints")
def checkpoints_(
    ctx: typer.Context,
    export: Annotated[
        Path | None, typer.Option("--export", help="Write each checkpoint as a file in DIR.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every signed checkpoint, oldest first, without signing a new one; ``--export``
    keeps them somewhere Limen cannot write (``audit verify --checkpoints DIR`` reads them)."""
    if (server := remote(ctx)) is not None:
        documents = server.get("/v1/audit/checkpoints")
        signed = [SignedCheckpoint.from_document(d) for d in documents]
    else:
        from limen.audit import list_checkpoints

        with open_database(ctx).unit_of_work(readonly=True) as uow:
            signed = list_checkpoints(uow.session)
    written = export_checkpoints(signed, export) if export is not None else []
    if as_json:
        emit_json(
            {
                "checkpoints": [c.to_document() for c in signed],
                "exported": [str(p) for p in written],
            }
        )
        return
    if not signed:
        out_console.print("no signed checkpoints yet: `limen audit checkpoint` signs one")
    for c in signed:
        out_console.print(f"checkpoint {c.id}: position {c.position}, event {c.event_id}")
    for path in written:
        out_console.print(f"wrote {path}")


@app.command("search")
def search(
    ctx: typer.Context,
    identity: Annotated[
        str | None,
        typer.Option(help="Id, name or email: its own events and all done on its behalf."),
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Only events by this identity id.")] = None,
    kind: Annotated[str | None, typer.Option(help="Kind of acting identity.")] = None,
    action: Annotated[str | None, typer.Option(help="Action, or a family like 'vault.*'.")] = None,
    resource_type: Annotated[str | None, typer.Option(help="Only this resource type.")] = None,
    resource_id: Annotated[str | None, typer.Option(help="Only this resource id.")] = None,
    outcome: Annotated[str | None, typer.Option(help="success, failure or denied.")] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Page size.")] = 100,
    cursor: Annotated[str | None, typer.Option(help="Continue after this cursor.")] = None,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Export every match as JSON Lines.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Find events, oldest first, as a table, one JSON document or JSON Lines.

    Remotely through ``GET /v1/events`` (the server links pending events first, as
    this command does on the server host)."""
    if (server := remote(ctx)) is not None:
        query: dict[str, Any] = {
            "identity": identity, "actor_id": actor, "kind": kind, "action": action,
            "resource_type": resource_type, "resource_id": resource_id, "outcome": outcome,
        }  # fmt: skip
        for key, value, option in (("since", since, "--since"), ("until", until, "--until")):
            moment = _parse_time(value, option)
            query[key] = moment.isoformat() if moment else None

        def page_of(after: str | None, size: int) -> tuple[list[dict[str, Any]], str | None]:
            page = server.get("/v1/events", **query, cursor=after, limit=size)
            return [event_from_wire(d) for d in page["items"]], page["next_cursor"]

        if jsonl:
            while True:
                found, cursor = page_of(cursor, 1000)
                for document in found:
                    typer.echo(json.dumps(document))
                if cursor is None:
                    return
        documents, next_cursor = page_of(cursor, limit)
        _print_search(documents, next_cursor, as_json=as_json)
        return
    from limen import identity as identities
    from limen.audit import EventFilter, list_events
    from limen.audit.documents import event_document

    db, _ = _linked(ctx)
    identity_id = None
    if identity:
        with db.unit_of_work(readonly=True) as uow:
            identity_id = identities.get(uow.session, identity).id
    filters = EventFilter(
        identity=identity_id,
        actor_id=actor,
        kind=kind,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
    )
    if jsonl:
        while True:
            with db.unit_of_work(readonly=True) as uow:
                page = list_events(uow.session, filters, after=cursor, limit=1000)
                for event in page.events:
                    typer.echo(json.dumps(event_document(event)))
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
    with db.unit_of_work(readonly=True) as uow:
        page = list_events(uow.session, filters, after=cursor, limit=limit)
        documents = [event_document(e) for e in page.events]
    _print_search(documents, page.next_cursor, as_json=as_json)


def _print_search(
    documents: list[dict[str, Any]], next_cursor: str | None, *, as_json: bool
) -> None:
    if as_json:
        emit_json({"items": documents, "next_cursor": next_cursor})
        return
    table = Table("pos", "time", "actor", "on behalf of", "action", "resource", "outcome")
    for doc in documents:
        resource = doc["resource"]
        table.add_row(
            str(doc["chain_position"] or "-"),
            doc["occurred_at"][:19].replace("T", " "),
            f"{doc['actor']['name']} ({doc['actor']['kind']})",
            " → ".join(d.get("name") or d.get("id", "") for d in doc["delegation"]),
            doc["action"],
            f"{resource['type'] or ''}:{resource['name'] or resource['id'] or ''}",
            doc["outcome"],
        )
    out_console.print(table)
    if next_cursor:
        out_console.print(f"more: --cursor {next_cursor}")


@app.command("prune")
def prune_(
    ctx: typer.Context,
    before: Annotated[str, typer.Option(help="Delete events older than this (ISO 8601).")],
    reason: ReasonOption = None,
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete old events, only as far as a signed checkpoint covers them (asks first).

    Remotely the server plans (``GET /v1/audit/prune-plan``), this asks, and the server
    deletes no more than the plan confirmed (``POST /v1/audit/prune``)."""
    moment = _parse_time(before, "--before")
    assert moment is not None
    server = remote(ctx)
    from limen.audit import PrunePlan, PruneResult

    if server is not None:
        plan = PrunePlan(**server.get("/v1/audit/prune-plan", before=moment.isoformat()))
    else:
        from limen.audit import plan_prune, prune

        db, keys = _linked(ctx)
        plan = plan_prune(db, keys, before=moment)
    if plan.checkpoint_id is not None:
        reason = require_reason(reason, yes=yes)
        confirm(
            f"delete {plan.events} events for good (positions {plan.from_position}-"
            f"{plan.through_position})",
            yes=yes,
            details=[
                f"up to signed checkpoint {plan.checkpoint_id}, from which verification "
                "then starts",
                "keep an exported copy first if you may need them (limen audit search --jsonl)",
            ],
        )
    if server is not None:
        body = {
            "before": moment.isoformat(),
            "reason": reason,
            "through_position": plan.through_position,
        }
        result = PruneResult(**server.post("/v1/audit/prune", body))
    else:
        from limen.audit import link_pending

        result = prune(
            db, keys, Actor.operator(), before=moment, reason=reason, through=plan.through_position
        )
        link_pending(db, keys.chain)
    if as_json:
        emit_json(
            {
                "deleted": result.deleted,
                "through_position": result.through_position,
                "checkpoint_id": result.checkpoint_id,
            }
        )
        return
    out_console.print(f"pruned {result.deleted} events through position {result.through_position}")


@events_token_app.command("create")
def events_token_create(
    ctx: typer.Context,
    features: Annotated[
        str, typer.Option(help="Comma-separated: auditevents, itemusages, signinattempts.")
    ],
    name: Annotated[
        str, typer.Option(help="Service identity that holds the token.")
    ] = "events-reporting",
    expires_in_days: Annotated[
        int | None, typer.Option("--expires-in-days", min=1, help="Expire after N days.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a bearer token for the Events-API feed (shown once)."""
    if (server := remote(ctx)) is not None:
        body = {"features": features.split(","), "name": name, "expires_in_days": expires_in_days}
        made = normalise_times(server.post("/v1/events-tokens", body), "expires_at")
        document = {key: made.get(key) for key in ("token", "id", "features", "expires_at")}
    else:
        from limen.audit.feed_tokens import issue_events_token

        expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
        with open_database(ctx).unit_of_work() as uow:
            token, raw = issue_events_token(
                uow, Actor.operator(), features=features.split(","), name=name, expires_at=expires
            )
            document = {
                "token": raw,
                "id": token.id,
                "features": [s.split(":", 1)[1] for s in token.scopes],
                "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            }
    if as_json:
        emit_json(document)
    else:
        typer.echo(document["token"])


@sink_app.command("add")
def sink_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the sink.")],
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(SINK_KINDS)}.")],
    target: Annotated[str, typer.Option(help="Webhook URL, nats:// URL, or absolute file path.")],
    subject: Annotated[str | None, typer.Option(help="NATS subject.")] = None,
    stream: Annotated[
        str | None, typer.Option(help="JetStream stream to create if missing.")
    ] = None,
    from_now: Annotated[
        bool, typer.Option("--from-now", help="Skip events already in the log.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a push sink; a webhook's signing secret is shown once."""
    if (server := remote(ctx)) is not None:
        if kind not in SINK_KINDS:
            raise InvalidInput(unknown_choice("sink kind", kind, SINK_KINDS))
        if kind == "jsonl":
            raise InvalidInput(
                "a jsonl sink writes a file on the server host; add it there "
                "(unset LIMEN_TOKEN), or add a webhook or nats sink"
            )
        body = {
            "name": name, "kind": kind, "target": target, "subject": subject, "stream": stream,
            "from_now": from_now,
        }  # fmt: skip
        made = normalise_times(server.post("/v1/sinks", body), "next_attempt_at")
        document = {key: made.get(key) for key in (*_SINK_KEYS, "secret")}
    else:
        from limen.audit.sinks import add_sink

        status, secret = add_sink(
            open_database(ctx),
            _keys(ctx),
            Actor.operator(),
            name=name,
            kind=kind,
            target=target,
            subject=subject,
            stream=stream,
            from_start=not from_now,
        )
        document = {**status.to_document(), "secret": secret}
    if as_json:
        emit_json(document)
        return
    out_console.print(f"sink {document['name']} ({document['kind']}) added: {document['id']}")
    if document["secret"]:
        out_console.print("Signing secret (shown once):")
        typer.echo(document["secret"])


_SINK_KEYS = (
    "id", "name", "kind", "target", "enabled", "delivered_through", "delivered_count",
    "pending", "failures", "last_error", "next_attempt_at",
)  # fmt: skip


def _sink_documents(ctx: typer.Context) -> list[dict[str, Any]]:
    if (server := remote(ctx)) is not None:
        return [
            normalise_times({key: s.get(key) for key in _SINK_KEYS}, "next_attempt_at")
            for s in server.get("/v1/sinks")["items"]
        ]
    from limen.audit.sinks import list_sinks

    with open_database(ctx).unit_of_work(readonly=True) as uow:
        return [s.to_document() for s in list_sinks(uow.session)]


@sink_app.command("list")
def sink_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show every sink and how far it has been delivered."""
    sinks = _sink_documents(ctx)
    if as_json:
        emit_json({"items": sinks})
        return
    table = Table("name", "kind", "target", "delivered", "pending", "failures", "last error")
    for sink in sinks:
        table.add_row(
            sink["name"],
            sink["kind"],
            sink["target"],
            str(sink["delivered_count"]),
            str(sink["pending"]),
            str(sink["failures"]),
            sink["last_error"] or "",
        )
    out_console.print(table)


@sink_app.command("remove")
def sink_remove(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Remove a sink (its delivery position goes with it)."""
    if (server := remote(ctx)) is not None:
        server.delete(f"/v1/sinks/{quote(name, safe='')}")
    else:
        from limen.audit.sinks import remove_sink

        remove_sink(open_database(ctx), Actor.operator(), name)
    out_console.print(f"removed sink {name}")


@sink_app.command("deliver")
def sink_deliver(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Deliver pending events to every due sink now (the server does this continuously)."""
    if (server := remote(ctx)) is not None:
        done = server.post("/v1/sinks/deliver")
        total, failing = done["delivered"], [(f["name"], f["last_error"]) for f in done["failing"]]
    else:
        from limen.audit.sinks import deliver_due, list_sinks

        db, keys = _linked(ctx)
        total = 0
        while True:
            count = deliver_due(db, keys)
            total += count
            if count == 0:
                break
        with db.unit_of_work(readonly=True) as uow:
            failing = [(s.name, s.last_error) for s in list_sinks(uow.session) if s.last_error]
    if as_json:
        emit_json(
            {
                "delivered": total,
                "failing": [{"name": n, "last_error": e} for n, e in failing],
            }
        )
    else:
        out_console.print(f"delivered {total} events")
        for sink_name, last_error in failing:
            typer.echo(f"limen: sink {sink_name}: {last_error}", err=True)
    if failing:
        raise typer.Exit(1)
