"""``limen vault …``, ``limen item …`` and ``limen service-account …``.

Every command acts on the configured database through :class:`limen.vault.VaultService`
as the operator, exactly as the Connect API does for a token; every secret read and
write is an event.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from limen import vault as vaults
from limen.audit import Actor
from limen.cli._confirm import YesFlag, confirm
from limen.cli._context import emit_json, open_database, out_console, remote, services, state
from limen.cli._errors import fail
from limen.cli._remote import normalise_times, server_host_only
from limen.cli._remote_vault import RemoteVault
from limen.durations import parse_duration
from limen.errors import InvalidInput
from limen.vault import Field, ItemDraft, Url

if TYPE_CHECKING:
    from limen.vault import FileInfo, ItemView, VaultService, VaultView

__all__ = [
    "item_app",
    "parse_duration",
    "remote_vault",
    "service_account_app",
    "vault_app",
    "vault_service",
]

vault_app = typer.Typer(help="Vaults: create, list, rotation policy and report, key rotation.")
item_app = typer.Typer(help="Items in a vault: create, get, edit, delete, attach files.")
service_account_app = typer.Typer(help="Service accounts: vault-scoped tokens for machines.")
for _app in (vault_app, item_app, service_account_app):
    _app.info.no_args_is_help = True

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
VaultOpt = Annotated[str, typer.Option("--vault", help="Vault name or id.")]


def _days(text: str | None) -> int | None:
    if text is None:
        return None
    duration = parse_duration(text)
    if duration < timedelta(days=1):
        raise InvalidInput("a maximum secret age is at least one day (e.g. 90d)")
    return duration.days


def vault_service(ctx: typer.Context) -> VaultService:
    """The vault service for this invocation, with the configured key-encryption key."""
    cli = state(ctx)
    settings = cli.settings
    if settings.key_passphrase is None:
        # A key file from elsewhere would seal new items under a key the installation
        # does not know; the audit trail says whether this one is the installation's.
        path = settings.resolved_key_file
        from limen.audit import AuditKeys, check_key

        check_key(open_database(ctx), AuditKeys.from_key_file(path), key_file=path)
    return services(ctx).vault


# -- documents ----------------------------------------------------------------------------


def vault_document(view: VaultView) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "description": view.description,
        "items": view.items,
        "max_secret_age_days": view.max_secret_age_days,
        "created_at": view.created_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
    }


def item_document(view: ItemView, *, reveal: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": view.id,
        "vault": {"id": view.vault_id, "name": view.vault_name},
        "title": view.title,
        "category": view.category,
        "tags": list(view.tags),
        "version": view.version,
        "latest_version": view.latest_version,
        "created_at": view.created_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
        "secrets_changed_at": view.secrets_changed_at.isoformat(),
        "max_secret_age_days": view.max_secret_age_days,
        "rotation_needed": _rotation_needed(view),
    }
    if view.content is not None:
        labels = {s.id: s.label for s in view.content.sections}
        document["sections"] = [{"id": s.id, "label": s.label} for s in view.content.sections]
        document["fields"] = [
            {
                "id": f.id,
                "label": f.label,
                "type": f.type,
                "purpose": f.purpose or None,
                "section": labels.get(f.section_id, f.section_id) if f.section_id else None,
                "value": f.value if reveal or not f.is_concealed else None,
                "reference": _reference(view, f),
            }
            for f in view.content.fields
        ]
        document["urls"] = [{"href": u.href, "primary": u.primary} for u in view.content.urls]
    document["files"] = [_file_document(f) for f in view.files]
    return document


def _rotation_needed(view: ItemView) -> dict[str, Any] | None:
    if view.rotation_needed_since is None:
        return None
    return {"since": view.rotation_needed_since.isoformat(), "reason": view.rotation_needed_reason}


def _reference(view: ItemView, f: Field) -> str:
    return str(vaults.Reference(view.vault_name, view.title, f.label or f.id))


def _file_document(info: FileInfo) -> dict[str, Any]:
    return {"id": info.id, "name": info.name, "size": info.size}


def _print_item(document: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit_json(document)
        return
    table = Table(show_header=False, box=None)
    table.add_row("id", document["id"])
    table.add_row("title", document["title"])
    table.add_row("vault", document["vault"]["name"])
    table.add_row("category", document["category"])
    table.add_row("version", f"{document['version']} of {document['latest_version']}")
    if document["tags"]:
        table.add_row("tags", ", ".join(document["tags"]))
    if document.get("rotation_needed"):
        flagged = document["rotation_needed"]
        table.add_row("rotation needed", f"since {flagged['since'][:10]}: {flagged['reason']}")
    for f in document.get("fields", []):
        name = f"{f['section']}.{f['label']}" if f["section"] else str(f["label"] or f["id"])
        value = f["value"] if f["value"] is not None else "[concealed; use --reveal]"
        table.add_row(name, value)
    for info in document["files"]:
        table.add_row("file", f"{info['name']} ({info['size']} bytes, {info['id']})")
    out_console.print(table, markup=False)


def remote_vault(ctx: typer.Context) -> RemoteVault | None:
    """The server's vault when the CLI talks to one (remote mode), else ``None``."""
    server = remote(ctx)
    return None if server is None else RemoteVault(server)


# -- vault ----------------------------------------------------------------------------------


@vault_app.command("create")
def vault_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Vault name.")],
    description: Annotated[str | None, typer.Option(help="What the vault holds.")] = None,
    max_age: Annotated[
        str | None, typer.Option("--max-age", help="Rotation policy: maximum secret age (90d).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a vault."""
    if (server := remote_vault(ctx)) is not None:
        document = server.create_vault(
            name, description=description, max_secret_age_days=_days(max_age)
        )
    else:
        document = vault_document(
            vault_service(ctx).create_vault(
                Actor.operator(), name, description=description, max_secret_age_days=_days(max_age)
            )
        )
    if as_json:
        emit_json(document)
    else:
        out_console.print(f"Created vault {document['name']} ({document['id']})", markup=False)


@vault_app.command("list")
def vault_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List vaults."""
    if (server := remote_vault(ctx)) is not None:
        documents = server.list_vaults()
    else:
        documents = [vault_document(v) for v in vault_service(ctx).list_vaults(Actor.operator())]
    if as_json:
        emit_json(documents)
        return
    table = Table("id", "name", "items", "max age")
    for v in documents:
        age = f"{v['max_secret_age_days']}d" if v["max_secret_age_days"] else "-"
        table.add_row(v["id"], v["name"], str(v["items"]), age)
    out_console.print(table, markup=False)


@vault_app.command("get")
def vault_get(ctx: typer.Context, name: str, as_json: JsonFlag = False) -> None:
    """Show one vault."""
    if (server := remote_vault(ctx)) is not None:
        document = server.get_vault(name)
    else:
        document = vault_document(vault_service(ctx).get_vault(Actor.operator(), name))
    if as_json:
        emit_json(document)
    else:
        for key, value in document.items():
            out_console.print(f"{key}: {value}", markup=False)


@vault_app.command("rename")
def vault_rename(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Vault name or id.")],
    new_name: Annotated[str, typer.Argument(help="Its new name.")],
    as_json: JsonFlag = False,
) -> None:
    """Rename a vault; limen:// references that use its old name stop resolving."""
    if (server := remote_vault(ctx)) is not None:
        document = server.rename_vault(name, new_name)
    else:
        document = vault_document(
            vault_service(ctx).update_vault(Actor.operator(), name, name=new_name)
        )
    if as_json:
        emit_json(document)
    else:
        out_console.print(f"Renamed vault {name} to {document['name']}", markup=False)


@vault_app.command("delete")
def vault_delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Vault name or id.")],
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete an empty vault and empty its trash for good (asks first; --yes without a
    terminal). A vault that still holds items is refused."""
    server = remote_vault(ctx)
    if server is not None:
        found = server.get_vault(name)
        vault_id, name = found["id"], found["name"]
    else:
        view = vault_service(ctx).get_vault(Actor.operator(), name)
        vault_id, name = view.id, view.name
    confirm(
        f"delete vault {name!r}",
        yes=yes,
        details=["the items in its trash go with it, for good", "its event history stays"],
    )
    if server is not None:
        purged = server.delete_vault(vault_id)
    else:
        purged = vault_service(ctx).delete_vault(Actor.operator(), vault_id)
    if as_json:
        emit_json({"id": vault_id, "name": name, "purged_items": purged})
    else:
        out_console.print(f"Deleted vault {name} ({purged} trashed item(s) purged)", markup=False)


@vault_app.command("policy")
def vault_policy(
    ctx: typer.Context,
    name: str,
    max_age: Annotated[
        str | None, typer.Option("--max-age", help="Maximum secret age, e.g. 90d.")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the policy.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Set the vault's rotation policy (maximum secret age)."""
    if (max_age is None) == (not clear):
        raise InvalidInput("give either --max-age or --clear")
    days = None if clear else _days(max_age)
    if (server := remote_vault(ctx)) is not None:
        document = server.set_policy(name, days)
    else:
        document = vault_document(
            vault_service(ctx).set_policy(Actor.operator(), name, max_secret_age_days=days)
        )
    if as_json:
        emit_json(document)
    else:
        age = document["max_secret_age_days"]
        policy = f"{age}d" if age else "none"
        out_console.print(f"Vault {document['name']}: maximum secret age {policy}", markup=False)


@vault_app.command("report")
def vault_report(
    ctx: typer.Context,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include items within policy too.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Items whose secrets are older than their rotation policy allows, or that someone
    who could read them left (flagged by offboarding)."""
    if (server := remote_vault(ctx)) is not None:
        entries = server.report()
    else:
        entries = [e.to_document() for e in vault_service(ctx).report(Actor.operator())]
    under_policy = sum(e["max_age_days"] is not None for e in entries)
    if not show_all:
        entries = [e for e in entries if e["out_of_policy"] or e["rotation_needed"]]
    if as_json:
        emit_json(entries)
        return
    if not entries:
        if under_policy == 0:
            sentence = (
                "No item has a rotation policy (limen vault policy VAULT --max-age 90d sets one)."
            )
        else:
            sentence = (
                f"Nothing is overdue: all {under_policy} item(s) under a rotation policy "
                "are younger than it allows (--all lists them)."
            )
        out_console.print(sentence, markup=False)
        return
    table = Table("vault", "item", "age", "max age", "last rotated", "flagged", "who can read")
    for e in entries:
        table.add_row(
            e["vault"],
            e["item"],
            f"{e['age_days']}d",
            f"{e['max_age_days']}d" if e["max_age_days"] else "-",
            e["last_rotated"][:10],
            (e["rotation_needed"] or {}).get("reason") or "-",
            ", ".join(e["readers"]) or "-",
        )
    out_console.print(table, markup=False)


@vault_app.command("rotate-key")
def vault_rotate_key(
    ctx: typer.Context,
    new_passphrase: Annotated[
        bool,
        typer.Option(
            "--new-passphrase", help="Prompt for a new passphrase (passphrase-derived keys)."
        ),
    ] = False,
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Re-wrap every data key under a new key-encryption key; the old key stops working."""
    if remote(ctx) is not None:
        why = "the new key-encryption key is written to its key file, or derived from the new "
        why += "passphrase its servers restart with"
        raise fail(server_host_only(ctx.command_path, why), 2)
    from limen.vault import KeyFileSource

    keyring = vault_service(ctx).keyring
    current = keyring.current().kid
    source = keyring.source
    if isinstance(source, KeyFileSource):
        then = (
            f"the new key is written to {source.vault_key_file}; "
            "copy it to every node and into your backups"
        )
    else:
        then = "then restart every server with the new LIMEN_KEY_PASSPHRASE"
    confirm(
        f"re-wrap every data key under a new key-encryption key (now {current})",
        yes=yes,
        details=["the current key stops opening anything", then],
    )
    passphrase = None
    if new_passphrase:
        passphrase = typer.prompt("New passphrase", hide_input=True, confirmation_prompt=True)
    result = keyring.rotate(Actor.operator(), new_passphrase=passphrase)
    document = {
        "old_key_id": result.old_kid,
        "new_key_id": result.new_kid,
        "rewrapped": result.rewrapped,
        "key_file": str(result.key_file) if result.key_file else None,
    }
    if as_json:
        emit_json(document)
        return
    out_console.print(
        f"Re-wrapped {result.rewrapped} data keys under key {result.new_kid} "
        f"(was {result.old_kid}).",
        markup=False,
    )
    if result.key_file:
        out_console.print(f"The new key is in {result.key_file}; back it up.", markup=False)
    else:
        out_console.print("Set LIMEN_KEY_PASSPHRASE to the new passphrase.", markup=False)


# -- item -----------------------------------------------------------------------------------


@item_app.command("create")
def item_create(
    ctx: typer.Context,
    vault: VaultOpt,
    title: Annotated[str, typer.Option(help="Item title.")],
    assignments: Annotated[
        list[str] | None, typer.Argument(help="Fields: [section.]label[[type]]=value.")
    ] = None,
    category: Annotated[str, typer.Option(help="LOGIN, PASSWORD, API_CREDENTIAL, …")] = "LOGIN",
    tag: Annotated[list[str] | None, typer.Option(help="Tag (repeatable).")] = None,
    url: Annotated[str | None, typer.Option(help="Primary URL.")] = None,
    generate_password: Annotated[
        str | None,
        typer.Option(
            "--generate-password", help="Generate the password: e.g. 32,letters,digits,symbols."
        ),
    ] = None,
    max_age: Annotated[
        str | None, typer.Option("--max-age", help="Item rotation policy (90d).")
    ] = None,
    reveal: Annotated[bool, typer.Option("--reveal", help="Show concealed values.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create an item; field values are sealed before they are stored."""
    fields, sections = vaults.apply_assignments([], [], assignments or [])
    if generate_password is not None:
        generated = vaults.generated_password(generate_password)
        fields = [f for f in fields if f.purpose != "PASSWORD"] + [generated]
    draft = ItemDraft(
        title=title,
        category=category,
        tags=tag or [],
        fields=fields,
        sections=sections,
        urls=[Url(url, primary=True)] if url else [],
        max_secret_age_days=_days(max_age),
    )
    if (server := remote_vault(ctx)) is not None:
        document = server.create_item(vault, draft, reveal=reveal)
    else:
        view = vault_service(ctx).create_item(Actor.operator(), vault, draft)
        document = item_document(view, reveal=reveal)
    _print_item(document, as_json=as_json)


@item_app.command("get")
def item_get(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="Item title or id.")],
    vault: VaultOpt,
    version: Annotated[int | None, typer.Option(help="An older version.")] = None,
    reveal: Annotated[bool, typer.Option("--reveal", help="Show concealed values.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show an item (concealed values hidden unless --reveal)."""
    if (server := remote_vault(ctx)) is not None:
        document = server.get_item(vault, item, reveal=reveal, version=version)
    else:
        view = vault_service(ctx).get_item(Actor.operator(), vault, item, version=version)
        document = item_document(view, reveal=reveal)
    _print_item(document, as_json=as_json)


@item_app.command("versions")
def item_versions(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="Item title or id.")],
    vault: VaultOpt,
    as_json: JsonFlag = False,
) -> None:
    """Every version of an item: number, when, by whom (no values)."""
    if (server := remote_vault(ctx)) is not None:
        documents = server.item_versions(vault, item)
    else:
        versions = vault_service(ctx).item_versions(Actor.operator(), vault, item)
        documents = [
            {"version": number, "created_at": at.isoformat(), "created_by": by}
            for number, at, by in versions
        ]
    if as_json:
        emit_json(documents)
        return
    table = Table("version", "created", "by")
    for d in documents:
        table.add_row(str(d["version"]), d["created_at"], d["created_by"] or "-")
    out_console.print(table, markup=False)


@item_app.command("list")
def item_list(ctx: typer.Context, vault: VaultOpt, as_json: JsonFlag = False) -> None:
    """List a vault's items (no values)."""
    if (server := remote_vault(ctx)) is not None:
        documents = server.list_items(vault)
    else:
        views = vault_service(ctx).list_items(Actor.operator(), vault)
        documents = [item_document(v, reveal=False) for v in views]
    if as_json:
        emit_json(documents)
        return
    table = Table("id", "title", "category", "version", "tags")
    for v in documents:
        table.add_row(v["id"], v["title"], v["category"], str(v["version"]), ", ".join(v["tags"]))
    out_console.print(table, markup=False)


@item_app.command("edit")
def item_edit(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="Item title or id.")],
    vault: VaultOpt,
    assignments: Annotated[
        list[str] | None,
        typer.Argument(
            help="Fields to set: [section.]label[[type]]=value; label[delete]= removes."
        ),
    ] = None,
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Replace the tags.")] = None,
    generate_password: Annotated[
        str | None, typer.Option("--generate-password", help="Generate a new password.")
    ] = None,
    max_age: Annotated[str | None, typer.Option("--max-age", help="Item rotation policy.")] = None,
    reveal: Annotated[bool, typer.Option("--reveal", help="Show concealed values.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Change an item; the result is a new version, the old one stays readable."""

    def change(draft: ItemDraft) -> ItemDraft:
        fields, sections = vaults.apply_assignments(
            list(draft.fields), list(draft.sections), assignments or []
        )
        if generate_password is not None:
            generated = vaults.generated_password(generate_password)
            existing = next((f for f in fields if f.purpose == "PASSWORD"), None)
            fields = [f for f in fields if f is not existing] + [
                Field(**{**_as_dict(generated), "id": existing.id if existing else "password"})
            ]
        return ItemDraft(
            title=title or draft.title,
            category=draft.category,
            tags=tag if tag is not None else draft.tags,
            favorite=draft.favorite,
            fields=fields,
            sections=sections,
            urls=draft.urls,
            max_secret_age_days=_days(max_age) if max_age else draft.max_secret_age_days,
        )

    if (server := remote_vault(ctx)) is not None:
        document = server.update_item(vault, item, change, reveal=reveal)
    else:
        view = vault_service(ctx).update_item(Actor.operator(), vault, item, change)
        document = item_document(view, reveal=reveal)
    _print_item(document, as_json=as_json)


def _as_dict(f: Field) -> dict[str, Any]:
    return {name: getattr(f, name) for name in Field.__slots__}


@item_app.command("delete")
def item_delete(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="Item title or id.")],
    vault: VaultOpt,
    yes: YesFlag = False,
) -> None:
    """Move an item to the trash (asks first; --yes without a terminal)."""
    server = remote_vault(ctx)
    if server is not None:
        count = server.versions(vault, item)
    else:
        count = len(vault_service(ctx).item_versions(Actor.operator(), vault, item))
    confirm(
        f"delete item {item!r} from vault {vault!r}",
        yes=yes,
        details=[
            f"its {count} version(s) leave every read, list and limen:// reference",
            "programs that read it fail from now on",
        ],
    )
    if server is not None:
        server.delete_item(vault, item)
    else:
        vault_service(ctx).delete_item(Actor.operator(), vault, item)
    out_console.print(f"Deleted {item}", markup=False)


@item_app.command("restore")
def item_restore(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="Trashed item's title or id.")],
    vault: VaultOpt,
    as_json: JsonFlag = False,
) -> None:
    """Take an item out of the trash: it reads, lists and resolves again, at its version."""
    if (server := remote_vault(ctx)) is not None:
        document = server.restore_item(vault, item)
    else:
        view = vault_service(ctx).restore_item(Actor.operator(), vault, item)
        document = item_document(view, reveal=False)
    if as_json:
        emit_json(document)
    else:
        out_console.print(
            f"Restored {document['title']} (version {document['version']})", markup=False
        )


@item_app.command("attach")
def item_attach(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="Item title or id.")],
    path: Annotated[Path, typer.Argument(help="File to attach.", exists=True, dir_okay=False)],
    vault: VaultOpt,
    name: Annotated[str | None, typer.Option(help="Name to store (default: file name).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Attach a file to an item (sealed like every other secret)."""
    content = path.read_bytes()
    if (there := remote_vault(ctx)) is not None:
        document = there.attach_file(vault, item, name=name or path.name, content=content)
    else:
        info = vault_service(ctx).attach_file(
            Actor.operator(), vault, item, name=name or path.name, content=content
        )
        document = _file_document(info)
    if as_json:
        emit_json(document)
    else:
        out_console.print(
            f"Attached {document['name']} ({document['size']} bytes) as {document['id']}",
            markup=False,
        )


# -- service accounts -----------------------------------------------------------------------


@service_account_app.command("create")
def service_account_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Service account name (created if new).")],
    vault: Annotated[
        list[str], typer.Option("--vault", help="<vault>:read or <vault>:write (repeatable).")
    ],
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Token lifetime, e.g. 30d, 12h.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue a vault-scoped token for a service account; the token is printed once."""
    if (server := remote(ctx)) is not None:
        body = {"name": name, "vaults": vault, "expires_in": expires_in}
        document = normalise_times(server.post("/v1/service-accounts", body), "expires_at")
        document = {key: document.get(key) for key in _ISSUED_KEYS}
    else:
        issued = vaults.service_accounts.create(
            open_database(ctx),
            Actor.operator(),
            name,
            grants=vault,
            expires_in=parse_duration(expires_in) if expires_in else None,
        )
        document = {
            "id": issued.identity_id,
            "name": issued.name,
            "token_id": issued.token_id,
            "token": issued.token,
            "scopes": list(issued.scopes),
            "expires_at": issued.expires_at.isoformat() if issued.expires_at else None,
        }
    if as_json:
        emit_json(document)
        return
    out_console.print(f"Service account {document['name']} ({document['id']})", markup=False)
    out_console.print(f"Scopes: {' '.join(document['scopes'])}", markup=False)
    out_console.print("Token (shown once, store it now):", markup=False)
    typer.echo(document["token"])


_ISSUED_KEYS = ("id", "name", "token_id", "token", "scopes", "expires_at")
_TOKEN_TIMES = ("created_at", "expires_at", "revoked_at", "last_used_at")


@service_account_app.command("list")
def service_account_list(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this service account.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Service-account tokens: scopes, expiry, revocation, last use (never the token)."""
    if (server := remote(ctx)) is not None:
        if name:
            found = server.get(f"/v1/service-accounts/{quote(name, safe='')}")["tokens"]
        else:
            found = server.get("/v1/service-accounts")["items"]
        documents = [normalise_times(dict(t), *_TOKEN_TIMES) for t in found]
    else:
        tokens = vaults.service_accounts.list_tokens(open_database(ctx), Actor.operator(), name)
        documents = [
            {
                "name": t.name,
                "token_id": t.token_id,
                "prefix": t.prefix,
                "scopes": list(t.scopes),
                "created_at": t.created_at.isoformat(),
                "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            }
            for t in tokens
        ]
    if as_json:
        emit_json(documents)
        return
    table = Table("name", "token id", "scopes", "expires", "revoked")
    for d in documents:
        table.add_row(
            d["name"],
            d["token_id"],
            " ".join(d["scopes"]),
            d["expires_at"] or "never",
            d["revoked_at"] or "-",
        )
    out_console.print(table, markup=False)


@service_account_app.command("revoke")
def service_account_revoke(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="Service account name/id (all its tokens) or token id.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a service-account token, or every token of a service account."""
    if (server := remote(ctx)) is not None:
        revoked = server.delete(f"/v1/service-accounts/{quote(ref, safe='')}")["revoked"]
    else:
        revoked = vaults.service_accounts.revoke(open_database(ctx), Actor.operator(), ref)
    if as_json:
        emit_json({"revoked": list(revoked)})
    else:
        out_console.print(f"Revoked {len(revoked)} token(s)", markup=False)
