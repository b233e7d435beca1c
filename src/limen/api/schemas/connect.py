"""1Password Connect wire shapes, in and out.

Field names, casing and enums follow the Connect API reference
(https://developer.1password.com/docs/connect/api-reference/) and the
``onepasswordconnectsdk`` models: camelCase timestamps (``createdAt``), ``vault: {id}``,
``section: {id}``, ``{"status", "message"}`` errors. Outputs are built as plain dicts
(the read path is hot); inputs are validated by pydantic and turned into domain drafts.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from limen.audit.log import Outcome
from limen.store.models import Event
from limen.vault import (
    Field as ItemField,
)
from limen.vault import (
    FileInfo,
    InvalidPatch,
    ItemDraft,
    ItemView,
    Recipe,
    Section,
    Url,
    VaultView,
    totp_code,
)

__all__ = [
    "ItemIn",
    "VaultCreate",
    "VaultUpdate",
    "activity_document",
    "apply_patch",
    "file_document",
    "item_document",
    "summary_document",
    "timestamp",
    "vault_document",
]


class _Connect(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class IdRef(_Connect):
    id: str | None = None


class RecipeIn(_Connect):
    length: int = Field(default=32, ge=1, le=64)
    character_sets: list[str] | None = Field(default=None, alias="characterSets")
    exclude_characters: str | None = Field(default=None, alias="excludeCharacters")


class FieldIn(_Connect):
    id: str | None = None
    section: IdRef | None = None
    type: str = "STRING"
    purpose: str | None = None
    label: str | None = None
    value: str | None = None
    generate: bool = False
    recipe: RecipeIn | None = None
    entropy: float | None = None

    def to_domain(self) -> ItemField:
        recipe = None
        if self.recipe is not None:
            recipe = Recipe(
                length=self.recipe.length,
                character_sets=tuple(
                    self.recipe.character_sets or ("LETTERS", "DIGITS", "SYMBOLS")
                ),
                exclude_characters=self.recipe.exclude_characters or "",
            )
        return ItemField(
            id=self.id or "",
            type=self.type or "STRING",
            label=self.label,
            value=self.value,
            purpose=self.purpose or "",
            section_id=self.section.id if self.section else None,
            entropy=self.entropy,
            generate=self.generate,
            recipe=recipe,
        )


class SectionIn(_Connect):
    id: str | None = None
    label: str | None = None


class UrlIn(_Connect):
    href: str
    label: str | None = None
    primary: bool = False


class ItemIn(_Connect):
    """A Connect ``FullItem`` as clients send it to create or replace an item."""

    id: str | None = None
    title: str | None = None
    vault: IdRef | None = None
    category: str = "LOGIN"
    urls: list[UrlIn] | None = None
    favorite: bool = False
    tags: list[str] | None = None
    sections: list[SectionIn] | None = None
    fields: list[FieldIn] | None = None
    max_secret_age_days: int | None = Field(default=None, alias="maxSecretAgeDays", ge=1, le=36_500)

    def to_draft(self) -> ItemDraft:
        return ItemDraft(
            title=self.title or "",
            category=self.category,
            tags=self.tags or [],
            favorite=self.favorite,
            fields=[f.to_domain() for f in self.fields or []],
            sections=[Section(s.id or "", s.label) for s in self.sections or []],
            urls=[Url(u.href, u.label, u.primary) for u in self.urls or []],
            max_secret_age_days=self.max_secret_age_days,
        )


class VaultCreate(_Connect):
    """Limen extension: Connect has no route to create vaults."""

    name: str
    description: str | None = None
    max_secret_age_days: int | None = Field(default=None, alias="maxSecretAgeDays", ge=1, le=36_500)


class VaultUpdate(_Connect):
    """Limen extension: rename a vault, change its description or rotation policy.

    Only the members sent change; ``maxSecretAgeDays: null`` clears the policy.
    """

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    max_secret_age_days: int | None = Field(default=None, alias="maxSecretAgeDays", ge=1, le=36_500)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def vault_document(vault: VaultView) -> dict[str, Any]:
    return {
        "id": vault.id,
        "name": vault.name,
        "description": vault.description or "",
        "attributeVersion": vault.attribute_version,
        "contentVersion": vault.content_version,
        "items": vault.items,
        "type": "USER_CREATED",
        "createdAt": timestamp(vault.created_at),
        "updatedAt": timestamp(vault.updated_at),
    }


def summary_document(item: ItemView) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "vault": {"id": item.vault_id},
        "category": item.category,
        "favorite": item.favorite,
        "tags": list(item.tags),
        "version": item.version,
        "trashed": item.trashed,
        "createdAt": timestamp(item.created_at),
        "updatedAt": timestamp(item.updated_at),
    }
    if item.last_edited_by:
        document["lastEditedBy"] = item.last_edited_by
    if item.rotation_needed_since is not None:
        # Limen's own: someone who could read it left (offboarding); cleared by a change
        # of its secret values. Clients that do not know the field ignore it.
        document["rotationNeeded"] = {
            "since": timestamp(item.rotation_needed_since),
            "reason": item.rotation_needed_reason,
        }
    return document


def item_document(item: ItemView, *, now: datetime | None = None) -> dict[str, Any]:
    document = summary_document(item)
    content = item.content
    if content is None:
        return document
    if content.urls:
        document["urls"] = [_url(u) for u in content.urls]
    document["sections"] = [
        {"id": s.id, **({"label": s.label} if s.label is not None else {})}
        for s in content.sections
    ]
    document["fields"] = [_field(f, now) for f in content.fields]
    if item.files:
        document["files"] = [file_document(f) for f in item.files]
    return document


def _url(url: Url) -> dict[str, Any]:
    out: dict[str, Any] = {"href": url.href}
    if url.primary:
        out["primary"] = True
    if url.label:
        out["label"] = url.label
    return out


def _field(f: ItemField, now: datetime | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": f.id, "type": f.type}
    if f.section_id:
        out["section"] = {"id": f.section_id}
    if f.purpose:
        out["purpose"] = f.purpose
    if f.label is not None:
        out["label"] = f.label
    if f.value is not None:
        out["value"] = f.value
    if f.entropy is not None:
        out["entropy"] = f.entropy
    if f.type == "OTP":
        code = totp_code(f.value, now=now)
        if code is not None:
            out["totp"] = code
    return out


def file_document(info: FileInfo, content: bytes | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": info.id,
        "name": info.name,
        "size": info.size,
        "content_path": (
            f"/v1/vaults/{info.vault_id}/items/{info.item_id}/files/{info.id}/content"
        ),
    }
    if info.section_id:
        out["section"] = {"id": info.section_id}
    if content is not None:
        out["content"] = base64.b64encode(content).decode()
    return out


_ACTIVITY_ACTIONS = {
    "vault.item.read": "READ",
    "vault.secret.read": "READ",
    "vault.file.read": "READ",
    "vault.item.create": "CREATE",
    "vault.file.create": "CREATE",
    "vault.create": "CREATE",
    "vault.item.update": "UPDATE",
    "vault.update": "UPDATE",
    "vault.item.delete": "DELETE",
}


def activity_document(event: Event) -> dict[str, Any]:
    """A Connect ``APIRequest`` for one vault event."""
    context = event.context or {}
    resource: dict[str, Any]
    if event.resource_type == "vault":
        resource = {"type": "VAULT", "vault": {"id": event.resource_id}}
    else:
        resource = {
            "type": "ITEM",
            "vault": {"id": context.get("vault_id")},
            "item": {"id": context.get("item_id", event.resource_id)},
        }
        if "version" in context:
            resource["itemVersion"] = context["version"]
    return {
        "requestId": event.id,
        "timestamp": timestamp(event.occurred_at),
        "action": _ACTIVITY_ACTIONS.get(event.action, "READ"),
        "result": "SUCCESS" if event.outcome == Outcome.SUCCESS else "DENY",
        "actor": {
            "id": event.actor_id or event.actor_name,
            "account": event.actor_name,
            "jti": event.token_id or "",
            "userAgent": context.get("user_agent", ""),
            "requestIp": context.get("ip", ""),
        },
        "resource": resource,
    }


# -- RFC 6902 JSON Patch over an item, as Connect's PATCH applies it --------------------


def apply_patch(draft: ItemDraft, operations: Sequence[Any]) -> ItemDraft:
    """Apply ``add``/``replace``/``remove`` operations on ``/title``, ``/tags``,
    ``/favorite``, ``/category``, ``/urls``, ``/sections[/id[/label]]`` and
    ``/fields[/id[/attribute]]``; fields and sections are addressed by id.
    """
    if not isinstance(operations, list):
        raise InvalidPatch("a PATCH body is a JSON array of operations")
    for operation in operations:
        if not isinstance(operation, dict):
            raise InvalidPatch("each operation is a JSON object")
        op = operation.get("op")
        path = operation.get("path")
        if op not in ("add", "replace", "remove") or not isinstance(path, str):
            raise InvalidPatch("operations are add, replace or remove, each with a path")
        draft = _apply_one(draft, op, path, operation.get("value"))
    return draft


def _apply_one(draft: ItemDraft, op: str, path: str, value: Any) -> ItemDraft:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
    if not parts or not parts[0]:
        raise InvalidPatch(f"cannot patch {path!r}")
    head, rest = parts[0], parts[1:]
    try:
        if head in ("title", "category", "favorite") and not rest:
            if op == "remove":
                raise InvalidPatch(f"{head} cannot be removed")
            return replace(draft, **{head: value})
        if head == "tags" and not rest:
            return replace(draft, tags=[] if op == "remove" else list(value))
        if head == "urls" and not rest:
            urls = [] if op == "remove" else [_model(UrlIn, u) for u in value]
            return replace(draft, urls=[Url(u.href, u.label, u.primary) for u in urls])
        if head == "sections":
            return replace(draft, sections=_patch_sections(list(draft.sections), op, rest, value))
        if head == "fields":
            return replace(draft, fields=_patch_fields(list(draft.fields), op, rest, value))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidPatch):
            raise
        raise InvalidPatch(f"the value for {path!r} has the wrong shape") from None
    raise InvalidPatch(f"cannot patch {path!r}")


def _model(cls: type[_Connect], value: Any) -> Any:
    try:
        return cls.model_validate(value)
    except ValidationError:
        raise InvalidPatch(f"the value is not a valid {cls.__name__[:-2].lower()}") from None


def _patch_sections(sections: list[Section], op: str, rest: list[str], value: Any) -> list[Section]:
    if not rest:
        if op == "remove":
            return []
        new = [_model(SectionIn, s) for s in (value if isinstance(value, list) else [value])]
        converted = [Section(s.id or "", s.label) for s in new]
        return sections + converted if op == "add" and not isinstance(value, list) else converted
    index = _index(sections, rest[0], "section")
    if len(rest) == 1:
        if op == "remove":
            return sections[:index] + sections[index + 1 :]
        s = _model(SectionIn, value)
        sections[index] = Section(s.id or rest[0], s.label)
        return sections
    if rest[1:] == ["label"] and op != "remove":
        sections[index] = Section(sections[index].id, str(value))
        return sections
    raise InvalidPatch("sections can be patched whole or by label")


def _patch_fields(fields: list[ItemField], op: str, rest: list[str], value: Any) -> list[ItemField]:
    if not rest:
        if op == "remove":
            return []
        if op == "add" and not isinstance(value, list):
            return [*fields, _model(FieldIn, value).to_domain()]
        return [_model(FieldIn, f).to_domain() for f in value]
    field_id = rest[0]
    if len(rest) == 1:
        if op == "add" and not any(f.id == field_id for f in fields):
            new = _model(FieldIn, value).to_domain()
            return [*fields, replace(new, id=new.id or field_id)]
        index = _index(fields, field_id, "field")
        if op == "remove":
            return fields[:index] + fields[index + 1 :]
        new = _model(FieldIn, value).to_domain()
        fields[index] = replace(new, id=new.id or field_id)
        return fields
    index = _index(fields, field_id, "field")
    attribute = "/".join(rest[1:])
    current = fields[index]
    if attribute == "value":
        fields[index] = replace(current, value=None if op == "remove" else str(value))
    elif attribute in ("label", "type", "purpose") and op != "remove":
        fields[index] = replace(current, **{attribute: str(value)})
    elif attribute == "section" and op != "remove":
        fields[index] = replace(current, section_id=_model(IdRef, value).id)
    elif attribute == "section" and op == "remove":
        fields[index] = replace(current, section_id=None)
    else:
        raise InvalidPatch(f"cannot patch a field's {attribute!r}")
    return fields


def _index(items: Sequence[Any], item_id: str, kind: str) -> int:
    for index, entry in enumerate(items):
        if entry.id == item_id:
            return index
    raise InvalidPatch(f"the item has no {kind} {item_id!r}")
