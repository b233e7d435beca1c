"""``limen identity …``: manage humans, agents and services on this installation."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol
from urllib.parse import quote

import typer
from rich.table import Column, Table

from limen.audit import Actor
from limen.cli._context import emit_json, out_console, remote, services
from limen.cli._remote import Remote, normalise_times
from limen.errors import InvalidInput
from limen.lifecycle import explain_offboarding, orphans_policy

if TYPE_CHECKING:
    from limen.store.models import Identity

__all__ = ["app"]

app = typer.Typer(help="Manage identities: humans, AI agents and services.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def identity_document(identity: Identity) -> dict[str, Any]:
    return {
        "id": identity.id,
        "kind": str(identity.kind),
        "name": identity.name,
        "email": identity.email,
        "display_name": identity.display_name,
        "owner_id": identity.owner_id,
        "status": str(identity.status),
        "status_reason": identity.status_reason,
        "roles": list(identity.roles or []),
        "attributes": dict(identity.attributes or {}),
        "managed": identity.managed,
        "created_at": identity.created_at.isoformat(),
        "status_changed_at": (
            identity.status_changed_at.isoformat() if identity.status_changed_at else None
        ),
    }


def _print_one(document: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(document)
        return
    table = Table(show_header=False, box=None)
    for key, value in document.items():
        if value not in (None, [], {}):
            table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    out_console.print(table)


@app.command()
def create(
    ctx: typer.Context,
    kind: Annotated[str, typer.Option(help="human, agent or service.")],
    name: Annotated[str, typer.Option(help="Unique name.")],
    owner: Annotated[str | None, typer.Option(help="Owning human (id, name or email).")] = None,
    email: Annotated[str | None, typer.Option(help="Email address (humans).")] = None,
    display_name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    role: Annotated[
        list[str] | None,
        typer.Option(help="Role to grant: admin, security-operator, auditor, viewer, or your own."),
    ] = None,
    attributes: Annotated[
        str | None, typer.Option(help='Attributes as a JSON object, e.g. \'{"team": "infra"}\'.')
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an identity."""
    created = _identities(ctx).create(
        kind=kind,
        name=name,
        email=email,
        display_name=display_name,
        owner=owner,
        roles=role or [],
        attributes=_parse_attributes(attributes),
    )
    _print_one(created, as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only identities owned by this human.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Page size.")] = 1000,
    cursor: Annotated[str | None, typer.Option(help="Continue after this cursor.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List identities."""
    page = _identities(ctx).list(kind=kind, status=status, owner=owner, cursor=cursor, limit=limit)
    names = {i["id"]: i["name"] for i in page["items"]}
    if as_json:
        emit_json(page)
        return
    table = Table(
        Column("id", no_wrap=True, min_width=26),
        Column("kind", no_wrap=True),
        Column("name", no_wrap=True),
        Column("email", overflow="fold"),
        Column("owner", overflow="fold"),
        Column("status", no_wrap=True),
        Column("created", overflow="fold"),
    )
    for item in page["items"]:
        owner_id = item["owner_id"] or ""
        table.add_row(
            item["id"],
            item["kind"],
            item["name"],
            item["email"] or "",
            names.get(owner_id, owner_id),
            item["status"],
            datetime.fromisoformat(item["created_at"]).strftime("%Y-%m-%d %H:%M"),
        )
    out_console.print(table)
    if page["next_cursor"]:
        out_console.print(f"more: --cursor {page['next_cursor']}")


@app.command()
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Identity id, name or email.")],
    as_json: JsonFlag = False,
) -> None:
    """Show one identity; for a person who was offboarded, what that did."""
    identities = _identities(ctx)
    document = identities.get(ref)
    _print_one(document, as_json)
    if as_json or document["kind"] != "human" or document["status"] == "active":
        return
    story = identities.offboarding(document["id"])
    if story:
        out_console.print("offboarded (limen identity offboarding shows every time):")
        _print_story(story[:1])


@app.command()
def offboarding(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Identity id, name or email.")],
    as_json: JsonFlag = False,
) -> None:
    """What offboarding did to a person (SCIM deprovisioning): their agents and services,
    revoked credentials, and the vault items flagged for rotation; newest first."""
    if (server := remote(ctx)) is not None:
        story = server.get(f"/v1/identities/{quote(ref, safe='')}/offboarding")
    else:
        story = services(ctx).provisioning.offboarding(Actor.operator(), ref)
    if as_json:
        emit_json(story)
        return
    if not story:
        out_console.print(f"{ref} was never offboarded")
        return
    _print_story(story)


def _print_story(story: list[dict[str, Any]]) -> None:
    for n, step in enumerate(story):
        if n:
            out_console.print()
        first, *rest = explain_offboarding(step)
        out_console.print(first, markup=False, highlight=False)
        for line in rest:
            out_console.print(f"  {line}", markup=False, highlight=False)


@app.command()
def deprovision(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The person: identity id, name or email.")],
    orphans: Annotated[
        str | None,
        typer.Option(
            help="Their agents and services: suspend, transfer-to-manager or keep "
            "(default: LIMEN_ORPHANS)."
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the event log).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Offboard a person as the identity provider's deprovisioning does: handle the agents
    and services they own by --orphans, revoke their tokens, delegations and clients, flag
    the vault items they could read for rotation, and deprovision them for good."""
    if orphans is not None:
        orphans_policy(orphans)
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput(f"deprovisioning {ref!r} cannot be undone; pass --yes to confirm")
        typer.confirm(f"Offboard and deprovision {ref!r} for good?", abort=True)
    if (server := remote(ctx)) is not None:
        body = {"orphans": orphans, "reason": reason}
        step = server.post(f"/v1/identities/{_segment(ref)}/deprovision", body)
    else:
        step = services(ctx).provisioning.deprovision(
            Actor.operator(), ref, orphans=orphans, reason=reason
        )
    if as_json:
        emit_json(step)
        return
    _print_story([step])


@app.command()
def suspend(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Identity id, name or email.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the event log).")] = None,
    cascade: Annotated[
        bool, typer.Option("--cascade", help="Also suspend the agents and services it owns.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Suspend an identity and revoke its tokens: nothing it holds is honoured from now on."""
    _print_one(_identities(ctx).suspend(ref, reason=reason, cascade=cascade), as_json)


@app.command()
def reactivate(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Identity id, name or email.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the event log).")] = None,
    cascade: Annotated[
        bool,
        typer.Option("--cascade", help="Also reactivate what a cascading suspension suspended."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Reactivate a suspended identity (its revoked tokens stay revoked)."""
    _print_one(_identities(ctx).reactivate(ref, reason=reason, cascade=cascade), as_json)


@app.command()
def update(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Identity id, name or email.")],
    display_name: Annotated[str | None, typer.Option(help="New display name.")] = None,
    email: Annotated[str | None, typer.Option(help="New email ('' clears it).")] = None,
    role: Annotated[
        list[str] | None,
        typer.Option(help="The roles it holds from now on (repeat; replaces the old ones)."),
    ] = None,
    no_roles: Annotated[bool, typer.Option("--no-roles", help="Take every role away.")] = False,
    owner: Annotated[str | None, typer.Option(help="New owning human (id, name or email).")] = None,
    attributes: Annotated[
        str | None, typer.Option(help="Attributes as a JSON object (replaces the old ones).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change an identity's display name, email, roles, owner or attributes."""
    if role and no_roles:
        raise InvalidInput("give --role or --no-roles, not both")
    changes: dict[str, Any] = {}
    if display_name is not None:
        changes["display_name"] = display_name
    if email is not None:
        changes["email"] = email or None
    if role or no_roles:
        changes["roles"] = list(role or [])
    if owner is not None:
        changes["owner"] = owner
    if attributes is not None:
        changes["attributes"] = _parse_attributes(attributes)
    if not changes:
        raise InvalidInput(
            "nothing to change: give --display-name, --email, --role, --no-roles, --owner "
            "or --attributes"
        )
    _print_one(_identities(ctx).update(ref, changes), as_json)


@app.command()
def delete(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Identity id, name or email.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the event log).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Deprovision an identity: suspend the agents and services it owns, revoke its tokens
    and clients, keep its history. It cannot be reactivated."""
    found = _identities(ctx).get(ref)
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput(
                f"deprovisioning {found['name']!r} cannot be undone; pass --yes to confirm"
            )
        typer.confirm(
            f"Deprovision {found['kind']} {found['name']!r}: suspend what it owns and revoke "
            "its credentials, for good?",
            abort=True,
        )
    done = _identities(ctx).deprovision(found["id"], reason=reason)
    if as_json:
        emit_json(done)
        return
    out_console.print(
        f"deprovisioned {done['name']}: {len(done['cascaded'])} owned identities "
        f"suspended, {done['revoked_tokens']} tokens revoked"
    )


class _Identities(Protocol):
    """What the commands ask of the directory; every answer is an identity document."""

    def create(self, **fields: Any) -> dict[str, Any]: ...
    def list(self, **query: Any) -> dict[str, Any]: ...
    def get(self, ref: str) -> dict[str, Any]: ...
    def suspend(self, ref: str, *, reason: str | None, cascade: bool) -> dict[str, Any]: ...
    def reactivate(self, ref: str, *, reason: str | None, cascade: bool) -> dict[str, Any]: ...
    def update(self, ref: str, changes: dict[str, Any]) -> dict[str, Any]: ...
    def deprovision(self, identity_id: str, *, reason: str | None) -> dict[str, Any]: ...
    def offboarding(self, ref: str) -> list[dict[str, Any]]: ...


class _Local:
    """The data dir, as the operator."""

    def __init__(self, ctx: typer.Context) -> None:
        self._services = services(ctx)

    def create(self, **fields: Any) -> dict[str, Any]:
        return identity_document(self._services.directory.create(Actor.operator(), **fields))

    def list(
        self, *, kind: str | None, status: str | None, owner: str | None, cursor: str | None,
        limit: int,
    ) -> dict[str, Any]:  # fmt: skip
        page = self._services.directory.list(
            Actor.operator(), kind=kind, status=status, owner=owner, after=cursor, limit=limit
        )
        return {
            "items": [identity_document(i) for i in page.identities],
            "next_cursor": page.next_cursor,
        }

    def get(self, ref: str) -> dict[str, Any]:
        return identity_document(self._services.directory.get(Actor.operator(), ref))

    def suspend(self, ref: str, *, reason: str | None, cascade: bool) -> dict[str, Any]:
        done = self._services.responder.contain(
            Actor.operator(), ref, reason=reason, cascade=cascade
        )
        return identity_document(done.identity)

    def reactivate(self, ref: str, *, reason: str | None, cascade: bool) -> dict[str, Any]:
        done = self._services.responder.release(
            Actor.operator(), ref, reason=reason, cascade=cascade
        )
        return identity_document(done.identity)

    def update(self, ref: str, changes: dict[str, Any]) -> dict[str, Any]:
        return identity_document(self._services.directory.update(Actor.operator(), ref, **changes))

    def deprovision(self, identity_id: str, *, reason: str | None) -> dict[str, Any]:
        done = self._services.responder.deprovision(Actor.operator(), identity_id, reason=reason)
        return {
            **identity_document(done.identity),
            "cascaded": [i.id for i in done.cascaded],
            "revoked_tokens": done.revoked_tokens,
        }

    def offboarding(self, ref: str) -> list[dict[str, Any]]:
        return self._services.provisioning.offboarding(Actor.operator(), ref)


class _Remote:
    """``/v1/identities`` on the server, as the token's identity."""

    def __init__(self, server: Remote) -> None:
        self._server = server

    def create(self, **fields: Any) -> dict[str, Any]:
        body = {k: v for k, v in fields.items() if v is not None}
        return _wire(self._server.post("/v1/identities", body))

    def list(self, **query: Any) -> dict[str, Any]:
        page = self._server.get("/v1/identities", **query)
        return {"items": [_wire(i) for i in page["items"]], "next_cursor": page["next_cursor"]}

    def get(self, ref: str) -> dict[str, Any]:
        return _wire(self._server.get(f"/v1/identities/{_segment(ref)}"))

    def suspend(self, ref: str, *, reason: str | None, cascade: bool) -> dict[str, Any]:
        body = {"reason": reason, "cascade": cascade}
        return _wire(self._server.post(f"/v1/identities/{_segment(ref)}/suspend", body))

    def reactivate(self, ref: str, *, reason: str | None, cascade: bool) -> dict[str, Any]:
        body = {"reason": reason, "cascade": cascade}
        return _wire(self._server.post(f"/v1/identities/{_segment(ref)}/reactivate", body))

    def update(self, ref: str, changes: dict[str, Any]) -> dict[str, Any]:
        return _wire(self._server.patch(f"/v1/identities/{_segment(ref)}", changes))

    def deprovision(self, identity_id: str, *, reason: str | None) -> dict[str, Any]:
        """``DELETE`` answers 204; what it cascaded to is read around it."""
        owned = self._active_owned(identity_id)
        tokens = self._live_tokens(identity_id)
        self._server.delete(f"/v1/identities/{identity_id}", reason=reason)
        still = self._active_owned(identity_id)
        return {
            **self.get(identity_id),
            "cascaded": [i for i in owned if i not in still],
            "revoked_tokens": len(tokens - self._live_tokens(identity_id)),
        }

    def offboarding(self, ref: str) -> list[dict[str, Any]]:
        story: list[dict[str, Any]] = self._server.get(
            f"/v1/identities/{_segment(ref)}/offboarding"
        )
        return story

    def _active_owned(self, identity_id: str) -> list[str]:
        ids: list[str] = []
        cursor = None
        while True:
            page = self._server.get(
                "/v1/identities", owner=identity_id, status="active", cursor=cursor, limit=1000
            )
            ids += [i["id"] for i in page["items"]]
            if not (cursor := page["next_cursor"]):
                return ids

    def _live_tokens(self, identity_id: str) -> set[str]:
        found = self._server.get("/v1/tokens", identity=identity_id)
        return {t["id"] for t in found["items"]}


def _wire(document: dict[str, Any]) -> dict[str, Any]:
    """The server's identity as :func:`identity_document` writes it."""
    shaped = {key: document.get(key) for key in _DOCUMENT_KEYS}
    return normalise_times(shaped, "created_at", "status_changed_at")


_DOCUMENT_KEYS = (
    "id", "kind", "name", "email", "display_name", "owner_id", "status", "status_reason",
    "roles", "attributes", "managed", "created_at", "status_changed_at",
)  # fmt: skip


def _identities(ctx: typer.Context) -> _Identities:
    server = remote(ctx)
    return _Local(ctx) if server is None else _Remote(server)


def _segment(ref: str) -> str:
    """``ref`` as one URL path segment (an email's ``@`` stays, a ``/`` does not)."""
    return quote(ref, safe="@")


def _parse_attributes(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"--attributes is not valid JSON: {exc.msg} at column {exc.colno}"
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput("--attributes must be a JSON object")
    return value
