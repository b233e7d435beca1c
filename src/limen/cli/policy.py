"""``limen policy …``: add, list, validate, test and remove Cedar policies."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from limen import access
from limen.audit import Actor
from limen.cli._context import emit_json, out_console, remote, services
from limen.cli._remote import Remote
from limen.errors import InvalidInput, NotFound

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
    entry = _policies(ctx).put(
        name, text, description=description, replace=replace, validate=validate, realm=realm
    )
    if as_json:
        emit_json(entry)
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
    items = _policies(ctx).list(realm=realm)
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
    entry = _policies(ctx).get(name)
    if as_json:
        emit_json(entry)
    else:
        typer.echo(entry["text"], nl=not entry["text"].endswith("\n"))


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
    count = _policies(ctx).validate(_read(file), realm=realm)
    statements = range(count)
    if as_json:
        emit_json({"valid": True, "statements": len(statements)})
    else:
        out_console.print(f"valid: {len(statements)} statement(s)")


@app.command()
def remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Policy name.")]) -> None:
    """Delete a stored policy."""
    _policies(ctx).remove(name)
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
    decision = _policies(ctx).decide(request)
    if as_json:
        emit_json(decision)
    else:
        verdict = "permit" if decision["decision"] else "deny"
        said = decision.get("context") or {}
        policies = f" ({', '.join(said['policies'])})" if said.get("policies") else ""
        out_console.print(f"{verdict}: {said.get('reason')}{policies}")
    if not decision["decision"]:
        raise typer.Exit(1)


class _Local:
    """The data dir's policies and PDP, as the operator."""

    def __init__(self, ctx: typer.Context) -> None:
        self._ctx = ctx

    def put(self, name: str, text: str, **options: Any) -> dict[str, Any]:
        policies = services(self._ctx).policies
        return _document(policies.put(Actor.operator(), name, text, **options))

    def list(self, *, realm: str | None) -> list[dict[str, Any]]:
        found = services(self._ctx).policies.list(Actor.operator(), realm=realm)
        return [_document(e) for e in found]

    def get(self, name: str) -> dict[str, Any]:
        return _document(services(self._ctx).policies.get(Actor.operator(), name))

    def validate(self, text: str, *, realm: str) -> int:
        return services(self._ctx).policies.validate(Actor.operator(), text, realm=realm)

    def remove(self, name: str) -> None:
        services(self._ctx).policies.remove(Actor.operator(), name)

    def decide(self, request: dict[str, Any]) -> dict[str, Any]:
        evaluation = access.parse_evaluation(request)
        return services(self._ctx).pdp.decide(evaluation).to_authzen()


class _Remote:
    """``/v1/policies`` and the AuthZEN evaluation endpoint on the server."""

    def __init__(self, server: Remote) -> None:
        self._server = server

    def put(
        self, name: str, text: str, *, description: str | None, replace: bool, validate: bool,
        realm: str,
    ) -> dict[str, Any]:  # fmt: skip
        path = f"/v1/policies/{quote(name, safe='')}"
        if not replace:
            try:
                self._server.get(path)
            except NotFound:
                pass
            else:
                raise access.PolicyExists(
                    f"a policy named {name!r} exists; use replace to change it"
                )
        body = {"text": text, "description": description, "validate": validate, "realm": realm}
        return _document_of(self._server.put(path, body))

    def list(self, *, realm: str | None) -> list[dict[str, Any]]:
        return [_document_of(e) for e in self._server.get("/v1/policies", realm=realm)["items"]]

    def get(self, name: str) -> dict[str, Any]:
        return _document_of(self._server.get(f"/v1/policies/{quote(name, safe='')}"))

    def validate(self, text: str, *, realm: str) -> int:
        answer = self._server.post("/v1/policies/validate", {"text": text, "realm": realm})
        return int(answer["statements"])

    def remove(self, name: str) -> None:
        self._server.delete(f"/v1/policies/{quote(name, safe='')}")

    def decide(self, request: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._server.post("/access/v1/evaluation", request)
        return answer


def _document_of(wire: dict[str, Any]) -> dict[str, Any]:
    return {key: wire.get(key) for key in ("name", "realm", "description", "text", "builtin")}


def _policies(ctx: typer.Context) -> _Local | _Remote:
    server = remote(ctx)
    return _Local(ctx) if server is None else _Remote(server)


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
    entry = _policies(ctx).put(
        name, _read(file), description=description, replace=replace, validate=True, realm="schema"
    )
    if as_json:
        emit_json(entry)
    else:
        out_console.print(f"stored schema fragment {name}")


@schema_app.command("show")
def schema_show(ctx: typer.Context) -> None:
    """Print the whole schema access policies are validated against, fragments included."""
    fragments = [e["text"] for e in _policies(ctx).list(realm="schema")]
    typer.echo(access.compose_schema(fragments), nl=False)
