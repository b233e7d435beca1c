"""``limen access review``: what each agent and service can reach, and what it used."""

from __future__ import annotations

import sys
from typing import Annotated, Literal

import typer
from rich.table import Table

from limen import lifecycle
from limen.audit import Actor
from limen.cli._context import emit_json, out_console, remote, services

__all__ = ["app", "posture_app"]

app = typer.Typer(help="Access review of agents and services.", no_args_is_help=True)
posture_app = typer.Typer(
    help="Non-human identity posture (OWASP NHI Top 10).", no_args_is_help=True
)


@app.command()
def review(
    ctx: typer.Context,
    kind: Annotated[
        Literal["agent", "service"] | None,
        typer.Option("--kind", help="Only agents, or only services (default: both)."),
    ] = None,
    resource_tag: Annotated[
        str | None,
        typer.Option(
            "--resource-tag",
            help="Only identities that reach items with this tag (it also marks them "
            "sensitive; default tag: sensitive).",
        ),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Usage window, in days.")] = 30,
    output: Annotated[
        Literal["table", "json", "csv", "html"],
        typer.Option("--format", help="table, json, csv or html (a self-contained page)."),
    ] = "table",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """What each non-human identity can reach, through which credential, on whose
    behalf, what it used in the last DAYS days, and what to change."""
    server = remote(ctx)
    if server is not None:
        query = {"kind": kind, "resource_tag": resource_tag, "days": days}
        document = server.get("/v1/access/review", **query)
    else:
        result = services(ctx).access_review.review(
            Actor.operator(), kind=kind, resource_tag=resource_tag, days=days
        )
        document = result.document()
    if as_json or output == "json":
        emit_json(document)
        return
    if output == "csv":
        sys.stdout.write(lifecycle.review_csv(document))
        return
    if output == "html":
        sys.stdout.write(lifecycle.review_html(document))
        return
    table = Table("identity", "on behalf of", "right", "through", "used", "findings")
    for entry in document["identities"]:
        findings = ", ".join(sorted({f["type"] for f in entry["findings"]}))
        rights = entry["rights"] or [None]
        for n, right in enumerate(rights):
            table.add_row(
                entry["name"] if n == 0 else "",
                (entry["on_behalf_of"] or "-") if n == 0 else "",
                f"{right['kind']} {right['target']}" if right else "-",
                right["via"] if right else "",
                ("yes" if right["used"] else "never") if right else "",
                findings if n == 0 else "",
            )
    out_console.print(table)
    summary = document["summary"]
    out_console.print(", ".join(f"{k}: {v}" for k, v in summary.items()))


@posture_app.command()
def report(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", help="Activity window, in days.")] = 30,
    output: Annotated[
        Literal["table", "json", "csv", "html"],
        typer.Option("--format", help="table, json, csv or html (a page with a chart)."),
    ] = "table",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Map what Limen knows to the OWASP Non-Human Identities Top 10 (2025): a count,
    the identities and the fix for each risk."""
    server = remote(ctx)
    if server is not None:
        document = server.get("/v1/posture/report", days=days)
    else:
        document = services(ctx).posture.report(Actor.operator(), days=days).document()
    if as_json or output == "json":
        emit_json(document)
        return
    if output == "csv":
        sys.stdout.write(lifecycle.posture_csv(document))
        return
    if output == "html":
        sys.stdout.write(lifecycle.posture_html(document))
        return
    table = Table("risk", "title", "count", "identities")
    for risk in document["risks"]:
        count = "not assessed" if risk["count"] is None else str(risk["count"])
        shown = risk["identities"][:5]
        more = len(risk["identities"]) - len(shown)
        table.add_row(
            risk["id"], risk["title"], count, ", ".join(shown) + (f" +{more}" if more else "")
        )
    out_console.print(table)
