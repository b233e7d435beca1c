"""``limen fleet``: enrol laptops and CI runners, and see what each one exposes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from limen.audit import Actor
from limen.cli._context import emit_json, open_database, out_console, remote
from limen.cli._remote import normalise_times
from limen.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(
    help="Machines that report their scans: enrolment tokens and the fleet inventory.",
    no_args_is_help=True,
)
token_app = typer.Typer(help="Enrolment tokens for machines that report scans.")
app.add_typer(token_app, name="token")

_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    fleet: Annotated[str, typer.Argument(help="Fleet name, e.g. laptops or ci.")] = "default",
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime, e.g. 90d or 12h.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Issue an enrolment token: it can report scans (discovery:write) and nothing else."""
    expires_at = datetime.now(UTC) + _duration(expires_in) if expires_in else None
    if (server := remote(ctx)) is not None:
        body = {"fleet": fleet, "expires_at": expires_at.isoformat() if expires_at else None}
        made = server.post("/v1/discovery/enrolment-tokens", body)
        document = normalise_times(
            {key: made[key] for key in ("fleet", "token_id", "token", "expires_at")}, "expires_at"
        )
    else:
        from limen.discovery import enrol

        with open_database(ctx).unit_of_work() as uow:
            enrolment = enrol(uow, Actor.operator(), fleet, expires_at=expires_at)
        document = {
            "fleet": enrolment.fleet,
            "token_id": enrolment.token_id,
            "token": enrolment.token,
            "expires_at": enrolment.expires_at,
        }
    if as_json:
        emit_json(document)
        return
    typer.echo(document["token"])
    typer.echo(
        f"Enrolment token for fleet {document['fleet']!r} (shown once). On each machine:\n"
        f"  LIMEN_TOKEN=… limen scan --endpoint --report --server URL",
        err=True,
    )


@app.command("machines")
def machines(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Every machine that has reported, with its open exposures."""
    if (server := remote(ctx)) is not None:
        rows = [_times(r) for r in server.get("/v1/discovery/machines")["items"]]
    else:
        from limen.discovery import list_machines

        with open_database(ctx).unit_of_work(readonly=True) as uow:
            rows = list_machines(uow.session)
    if as_json:
        emit_json({"items": rows})
        return
    table = Table("machine", "fleet", "owner", "last seen", "reports", "open exposures")
    for row in rows:
        # Text, not markup: names and places come from the machines that report.
        table.add_row(
            Text(str(row["name"])),
            Text(str(row["fleet"])),
            Text(str(row["owner"] or "")),
            _when(row["last_seen"]),
            str(row["reports"]),
            str(row["open_exposures"]),
        )
    out_console.print(table)


@app.command("exposures")
def exposures(
    ctx: typer.Context,
    machine: Annotated[
        str | None, typer.Option("--machine", help="Only this machine (name or id).")
    ] = None,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Resolved exposures too.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Which machine holds which exposed credential (fingerprints, never values)."""
    if (server := remote(ctx)) is not None:
        found = server.get(
            "/v1/discovery/exposures", machine=machine, include_resolved=include_resolved
        )
        rows = [_times(r) for r in found["items"]]
    else:
        from limen.discovery import list_exposures

        with open_database(ctx).unit_of_work(readonly=True) as uow:
            rows = list_exposures(uow.session, machine=machine, include_resolved=include_resolved)
    if as_json:
        emit_json({"items": rows})
        return
    table = Table("machine", "owner", "provider", "rule", "location", "status", "last seen")
    for row in rows:
        table.add_row(
            *(Text(str(row[k] or "")) for k in ("machine", "owner", "provider", "rule_id")),
            Text(str(row["location"])),
            str(row["status"]),
            _when(row["last_seen"]),
        )
    out_console.print(table)


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise InvalidInput(f"--expires-in: cannot read {text!r}; use e.g. 90d, 12h or 30m")
    number, unit = int(match.group(1)), match.group(2)
    return {"d": timedelta(days=number), "h": timedelta(hours=number)}.get(
        unit, timedelta(minutes=number)
    )


def _times(row: dict[str, Any]) -> dict[str, Any]:
    """A row from the server with its times as the local rows have them."""
    return {
        key: datetime.fromisoformat(value)
        if key in ("first_seen", "last_seen", "resolved_at") and isinstance(value, str)
        else value
        for key, value in row.items()
    }


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value)
