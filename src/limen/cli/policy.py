"""``limen policy …``: add, list, validate, test and remove Cedar policies."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from limen import access
from limen.audit import Actor
from limen.cli._context import emit_json, out_console, services
from limen.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(help="Manage Cedar policies and test decisions.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
FileArg = Annotated[Path, typer.Argument(help="Cedar policy file ('-' for stdin).")]
RealmOption = Annotated[
    str,
    typer.Option(help="access (decisions for PEPs) or admin (roles for Limen's own operations)."),
]


def _read(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None


@app.command()
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Policy name (lowercase, digits, . _ -).")],
    file: FileArg,
    description: Annotated[str | None, typer.Option(help="What the policy is for.")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a policy of that name.")
    ] = False,
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Check against Limen's schema.")
    ] = True,
    realm: RealmOption = "access",
    as_json: JsonFlag = False,
) -> None:
    """Validate and store a policy; running servers pick it up at once.

    ``--realm admin`` policies govern Limen's own operations: they define roles (see
    ``limen policy show limen-admin``)."""
    text = _read(file)
    entry = services(ctx).policies.put(
        Actor.operator(),
        name,
        text,
        description=description,
        replace=replace,
        validate=validate,
        realm=realm,
    )
    if as_json:
        emit_json(_document(entry))
    else:
        realm_note = " (admin realm: roles for Limen's own operations)" if realm == "admin" else ""
        out_console.print(f"stored policy {name}{realm_note}")


@app.command("list")
def list_(
    ctx: typer.Context,
    realm: Annotated[
        str | None, typer.Option(help="Only this realm: access or admin.", show_default=False)
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the built-in and stored policies."""
    if realm is not None and realm not in access.REALMS:
        raise InvalidInput(f"--realm is one of {', '.join(access.REALMS)}")
    items = [_document(e) for e in services(ctx).policies.list(Actor.operator(), realm=realm)]
    if as_json:
        emit_json({"items": items})
        return
    table = Table("name", "realm", "statements", "description")
    for item in items:
        table.add_row(
            item["name"],
            item["realm"],
            str(len(access.split_statements(item["text"]))),
            item["description"] or "",
        )
    out_console.print(table)


@app.command()
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Policy name, e.g. limen-admin.")],
    as_json: JsonFlag = False,
) -> None:
    """Print a policy's Cedar text (built-in ones too)."""
    entry = services(ctx).policies.get(Actor.operator(), name)
    if as_json:
        emit_json(_document(entry))
    else:
        typer.echo(entry.text, nl=not entry.text.endswith("\n"))


def _document(entry: access.PolicyEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "realm": entry.realm,
        "description": entry.description,
        "text": entry.text,
        "builtin": entry.builtin,
    }


@app.command()
def validate(
    ctx: typer.Context, file: FileArg, realm: RealmOption = "access", as_json: JsonFlag = False
) -> None:
    """Parse and validate a policy file against Limen's schema; errors name the line."""
    if realm not in access.REALMS:
        raise InvalidInput(f"--realm is one of {', '.join(access.REALMS)}")
    count = services(ctx).policies.validate(Actor.operator(), _read(file), realm=realm)
    statements = range(count)
    if as_json:
        emit_json({"valid": True, "statements": len(statements)})
    else:
        out_console.print(f"valid: {len(statements)} statement(s)")


@app.command()
def remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Policy name.")]) -> None:
    """Delete a stored policy."""
    services(ctx).policies.remove(Actor.operator(), name)
    out_console.print(f"removed policy {name}")


@app.command()
def test(
    ctx: typer.Context,
    subject: Annotated[str, typer.Option(help="Identity id, name or email.")],
    action: Annotated[str, typer.Option(help="Action name, e.g. call.")],
    resource: Annotated[str, typer.Option(help="TYPE:ID, e.g. tool:deploy.")],
    context: Annotated[str | None, typer.Option(help="Context as a JSON object.")] = None,
    properties: Annotated[
        str | None, typer.Option(help="Resource properties as a JSON object.")
    ] = None,
    subject_properties: Annotated[
        str | None, typer.Option(help="Subject properties as a JSON object.")
    ] = None,
    action_properties: Annotated[
        str | None, typer.Option(help="Action properties as a JSON object.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Decide one request against the stored policies and live status (records nothing).

    Exits 0 when permitted and 1 when denied, so scripts can branch on it.
    """
    resource_type, sep, resource_id = resource.partition(":")
    if not sep or not resource_type or not resource_id:
        raise InvalidInput("--resource is TYPE:ID, e.g. tool:deploy")
    request: dict[str, Any] = {
        "subject": {"type": "identity", "id": subject},
        "action": {"name": action},
        "resource": {"type": resource_type, "id": resource_id},
        "context": _object(context, "--context"),
    }
    if properties:
        request["resource"]["properties"] = _object(properties, "--properties")
    if subject_properties:
        request["subject"]["properties"] = _object(subject_properties, "--subject-properties")
    if action_properties:
        request["action"]["properties"] = _object(action_properties, "--action-properties")
    evaluation = access.parse_evaluation(request)
    decision = services(ctx).pdp.decide(evaluation)
    if as_json:
        emit_json(decision.to_authzen())
    else:
        verdict = "permit" if decision.allowed else "deny"
        policies = f" ({', '.join(decision.policies)})" if decision.policies else ""
        out_console.print(f"{verdict}: {decision.reason}{policies}")
    if not decision.allowed:
        raise typer.Exit(1)


def _object(raw: str | None, flag: str) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{flag} must be a JSON object")
    return value


schema_app = typer.Typer(
    help="Extend the schema policies are validated against with your application's "
    "entity types, actions and properties.",
    no_args_is_help=True,
)
app.add_typer(schema_app, name="schema")


@schema_app.command("add")
def schema_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Fragment name (lowercase, digits, . _ -).")],
    file: Annotated[Path, typer.Argument(help="Cedar schema declarations ('-' for stdin).")],
    description: Annotated[str | None, typer.Option(help="What the fragment is for.")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a fragment of that name.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Store a schema fragment: declarations placed inside ``namespace Limen``.

    Remove one with ``limen policy remove NAME``; list them with ``limen policy list
    --realm schema``."""
    entry = services(ctx).policies.put(
        Actor.operator(),
        name,
        _read(file),
        description=description,
        replace=replace,
        realm="schema",
    )
    if as_json:
        emit_json(_document(entry))
    else:
        out_console.print(f"stored schema fragment {name}")


@schema_app.command("show")
def schema_show(ctx: typer.Context) -> None:
    """Print the whole schema access policies are validated against, fragments included."""
    fragments = [e.text for e in services(ctx).policies.list(Actor.operator(), realm="schema")]
    typer.echo(access.compose_schema(fragments), nl=False)
