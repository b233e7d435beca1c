"""``limen alert …``: the live detector's alerts: list, show, acknowledge, resolve, and mark
false positives (the detector then learns the behaviour as normal)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from limen.audit import Actor
from limen.cli._context import emit_json, out_console, remote, services
from limen.cli._remote import Remote

__all__ = ["app"]

app = typer.Typer(help="Alerts of the live detector.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
AlertArg = Annotated[str, typer.Argument(help="Alert id (see `limen alert list`).")]
NoteOption = Annotated[str | None, typer.Option(help="A note (recorded in the event log).")]


def _reasons(document: dict[str, Any]) -> str:
    return "; ".join(reason["text"] for reason in document["reasons"][:2])


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="open, acknowledged, false_positive or resolved.")
    ] = None,
    identity: Annotated[str | None, typer.Option(help="Only this identity's (id or name).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List alerts, newest first."""
    found = _alerts(ctx).list(status=status, identity=identity, limit=limit)
    if as_json:
        emit_json({"items": list(found)})
        return
    if not found:
        out_console.print("No alerts.")
        return
    table = Table("id", "identity", "kind", "severity", "score", "status", "raised at", "reasons")
    for alert in found:
        table.add_row(
            alert["id"],
            alert["identity"]["name"],
            alert["identity"]["kind"],
            alert["severity"],
            f"{alert['score']:.2f}",
            alert["status"],
            alert["raised_at"][:19],
            _reasons(alert),
        )
    out_console.print(table)


@app.command()
def show(ctx: typer.Context, alert_id: AlertArg, as_json: JsonFlag = False) -> None:
    """Show one alert: its reasons and the events behind it."""
    alert = _alerts(ctx).get(alert_id)
    if as_json:
        emit_json(alert)
        return
    _print(alert)


def _print(alert: dict[str, Any]) -> None:
    who = alert["identity"]
    out_console.print(
        f"alert {alert['id']}: {who['kind']} {who['name']}, {alert['severity']} "
        f"({alert['score']:.2f}), {alert['status']}"
    )
    out_console.print(f"  from {alert['from']} to {alert['to']}, raised at {alert['raised_at']}")
    for reason in alert["reasons"]:
        out_console.print(f"  - {reason['text']}")
    out_console.print(f"  events: {', '.join(alert['events'][:10])}")


@app.command("ack")
def ack(
    ctx: typer.Context, alert_id: AlertArg, note: NoteOption = None, as_json: JsonFlag = False
) -> None:
    """Acknowledge an alert: someone is on it."""
    _changed(_alerts(ctx).change(alert_id, "acknowledge", note=note), as_json)


@app.command("false-positive")
def false_positive(
    ctx: typer.Context, alert_id: AlertArg, note: NoteOption = None, as_json: JsonFlag = False
) -> None:
    """Mark an alert a false positive: the detector learns its behaviour as normal."""
    _changed(_alerts(ctx).change(alert_id, "false-positive", note=note), as_json)


@app.command()
def resolve(
    ctx: typer.Context,
    alert_id: AlertArg,
    note: NoteOption = None,
    false_positive: Annotated[
        bool, typer.Option("--false-positive", help="Resolve it as a false positive.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Resolve an alert (contained, or explained)."""
    change = "false-positive" if false_positive else "resolve"
    _changed(_alerts(ctx).change(alert_id, change, note=note), as_json)


class _Local:
    """The data dir's alerts, as the operator."""

    def __init__(self, ctx: typer.Context) -> None:
        self._alerts = services(ctx).alerts

    def list(self, **query: Any) -> list[dict[str, Any]]:
        return list(self._alerts.list(Actor.operator(), **query))

    def get(self, alert_id: str) -> dict[str, Any]:
        return dict(self._alerts.get(Actor.operator(), alert_id))

    def change(self, alert_id: str, change: str, *, note: str | None) -> dict[str, Any]:
        act = {
            "acknowledge": self._alerts.acknowledge,
            "false-positive": self._alerts.mark_false_positive,
            "resolve": self._alerts.resolve,
        }[change]
        return dict(act(Actor.operator(), alert_id, note=note))


class _Remote:
    """``/v1/alerts`` on the server."""

    def __init__(self, server: Remote) -> None:
        self._server = server

    def list(self, **query: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._server.get("/v1/alerts", **query)["items"]
        return items

    def get(self, alert_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._server.get(f"/v1/alerts/{quote(alert_id, safe='')}")
        return found

    def change(self, alert_id: str, change: str, *, note: str | None) -> dict[str, Any]:
        path = f"/v1/alerts/{quote(alert_id, safe='')}/{change}"
        done: dict[str, Any] = self._server.post(path, {"note": note})
        return done


def _alerts(ctx: typer.Context) -> _Local | _Remote:
    server = remote(ctx)
    return _Local(ctx) if server is None else _Remote(server)


def _changed(alert: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(alert)
        return
    out_console.print(f"alert {alert['id']} of {alert['identity']['name']}: {alert['status']}")
