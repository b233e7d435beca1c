"""What an item holds: sections, fields and URLs, in 1Password Connect's vocabulary.

Categories, field types and purposes are the values the Connect API uses
(https://developer.1password.com/docs/connect/api-reference/). The whole content is
sealed as one JSON document per item version.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from limen.vault.errors import InvalidItem
from limen.vault.generator import CHARACTER_SETS, Recipe, generate

__all__ = [
    "CATEGORIES",
    "CONCEALED_TYPES",
    "FIELD_TYPES",
    "PURPOSES",
    "Field",
    "ItemContent",
    "ItemDraft",
    "Section",
    "Url",
    "new_field_id",
]

CATEGORIES: Final = frozenset(
    {
        "LOGIN",
        "PASSWORD",
        "API_CREDENTIAL",
        "SERVER",
        "DATABASE",
        "CREDIT_CARD",
        "MEMBERSHIP",
        "PASSPORT",
        "SOFTWARE_LICENSE",
        "OUTDOOR_LICENSE",
        "SECURE_NOTE",
        "WIRELESS_ROUTER",
        "BANK_ACCOUNT",
        "DRIVER_LICENSE",
        "IDENTITY",
        "REWARD_PROGRAM",
        "DOCUMENT",
        "EMAIL_ACCOUNT",
        "SOCIAL_SECURITY_NUMBER",
        "MEDICAL_RECORD",
        "SSH_KEY",
        "CUSTOM",
    }
)
FIELD_TYPES: Final = frozenset(
    {"STRING", "EMAIL", "CONCEALED", "URL", "OTP", "DATE", "MONTH_YEAR", "MENU", "SSHKEY", "PHONE"}
)
_TYPE_ALIASES: Final = {"TOTP": "OTP", "TEXT": "STRING", "PASSWORD": "CONCEALED"}
CONCEALED_TYPES: Final = frozenset({"CONCEALED", "OTP", "SSHKEY"})
PURPOSES: Final = frozenset({"", "USERNAME", "PASSWORD", "NOTES"})
_MAX_FIELDS: Final = 500
_MAX_VALUE: Final = 65536


def new_field_id() -> str:
    return secrets.token_hex(13)


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Url:
    href: str
    label: str | None = None
    primary: bool = False


@dataclass(frozen=True, slots=True)
class Field:
    id: str
    type: str = "STRING"
    label: str | None = None
    value: str | None = field(default=None, repr=False)
    purpose: str = ""
    section_id: str | None = None
    entropy: float | None = None
    generate: bool = False
    recipe: Recipe | None = None

    @property
    def is_concealed(self) -> bool:
        return self.type in CONCEALED_TYPES or self.purpose == "PASSWORD"


@dataclass(frozen=True, slots=True)
class ItemContent:
    """The sealed part of an item version."""

    fields: tuple[Field, ...] = ()
    sections: tuple[Section, ...] = ()
    urls: tuple[Url, ...] = ()

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "fields": [
                    {
                        "id": f.id,
                        "type": f.type,
                        "label": f.label,
                        "value": f.value,
                        "purpose": f.purpose,
                        "section": f.section_id,
                        "entropy": f.entropy,
                    }
                    for f in self.fields
                ],
                "sections": [{"id": s.id, "label": s.label} for s in self.sections],
                "urls": [
                    {"href": u.href, "label": u.label, "primary": u.primary} for u in self.urls
                ],
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ItemContent:
        doc = json.loads(raw)
        return cls(
            fields=tuple(
                Field(
                    id=f["id"],
                    type=f["type"],
                    label=f.get("label"),
                    value=f.get("value"),
                    purpose=f.get("purpose") or "",
                    section_id=f.get("section"),
                    entropy=f.get("entropy"),
                )
                for f in doc.get("fields", ())
            ),
            sections=tuple(Section(s["id"], s.get("label")) for s in doc.get("sections", ())),
            urls=tuple(
                Url(u["href"], u.get("label"), bool(u.get("primary"))) for u in doc.get("urls", ())
            ),
        )

    def secret_values(self) -> dict[str, str | None]:
        return {f.id: f.value for f in self.fields}


@dataclass(frozen=True, slots=True)
class ItemDraft:
    """An item as a caller describes it, before ids are assigned and passwords generated."""

    title: str
    category: str = "LOGIN"
    tags: Sequence[str] = ()
    favorite: bool = False
    fields: Sequence[Field] = ()
    sections: Sequence[Section] = ()
    urls: Sequence[Url] = ()
    max_secret_age_days: int | None = None

    def normalised(self) -> tuple[ItemDraft, ItemContent]:
        """Validate, assign missing ids and generate requested values."""
        title = (self.title or "").strip()
        if not title or len(title) > 300:
            raise InvalidItem("an item needs a title of 1-300 characters")
        category = (self.category or "LOGIN").strip().upper()
        if category not in CATEGORIES:
            raise InvalidItem(
                f"unknown category {self.category!r}; use one of {', '.join(sorted(CATEGORIES))}"
            )
        tags = _tags(self.tags)
        if self.max_secret_age_days is not None and self.max_secret_age_days < 1:
            raise InvalidItem("the maximum secret age is at least one day")
        sections = _sections(self.sections)
        section_ids = {s.id for s in sections}
        if len(self.fields) > _MAX_FIELDS:
            raise InvalidItem(f"an item holds at most {_MAX_FIELDS} fields")
        fields: list[Field] = []
        seen: set[str] = set()
        for raw in self.fields:
            item_field = _field(raw, section_ids)
            if item_field.id in seen:
                raise InvalidItem(f"two fields have the id {item_field.id!r}")
            seen.add(item_field.id)
            fields.append(item_field)
        urls = tuple(Url(u.href.strip(), u.label, u.primary) for u in self.urls if u.href)
        draft = replace(self, title=title, category=category, tags=tags)
        return draft, ItemContent(tuple(fields), sections, urls)


def _tags(tags: Iterable[str]) -> list[str]:
    cleaned = sorted({str(t).strip() for t in tags or () if str(t).strip()})
    if any(len(t) > 100 for t in cleaned):
        raise InvalidItem("tags are at most 100 characters")
    return cleaned


def _sections(sections: Iterable[Section]) -> tuple[Section, ...]:
    result: list[Section] = []
    for section in sections or ():
        section_id = (section.id or "").strip() or new_field_id()
        if any(s.id == section_id for s in result):
            raise InvalidItem(f"two sections have the id {section_id!r}")
        result.append(Section(section_id, section.label))
    return tuple(result)


def _field(raw: Field, section_ids: set[str]) -> Field:
    field_type = (raw.type or "STRING").strip().upper()
    field_type = _TYPE_ALIASES.get(field_type, field_type)
    if field_type not in FIELD_TYPES:
        raise InvalidItem(
            f"unknown field type {raw.type!r}; use one of {', '.join(sorted(FIELD_TYPES))}"
        )
    purpose = (raw.purpose or "").strip().upper()
    if purpose not in PURPOSES:
        raise InvalidItem(f"unknown field purpose {raw.purpose!r}; use USERNAME, PASSWORD, NOTES")
    if raw.section_id and raw.section_id not in section_ids:
        raise InvalidItem(f"field {raw.label or raw.id!r} names a section the item does not have")
    if purpose == "PASSWORD" and field_type == "STRING":
        field_type = "CONCEALED"  # Connect conceals password-purpose fields
    value, entropy = raw.value, raw.entropy
    if raw.generate:
        recipe = raw.recipe or Recipe()
        for name in recipe.character_sets:
            if str(name).upper() not in CHARACTER_SETS:
                raise InvalidItem(f"unknown character set {name!r}")
        generated = generate(recipe)
        value, entropy = generated.value, generated.entropy
        if field_type == "STRING" and purpose != "USERNAME":
            field_type = "CONCEALED"
    if value is not None and len(value) > _MAX_VALUE:
        raise InvalidItem(f"field values are at most {_MAX_VALUE} characters")
    field_id = (raw.id or "").strip() or _default_id(purpose)
    return Field(
        id=field_id,
        type=field_type,
        label=raw.label if raw.label is not None else (purpose.lower() or None),
        value=value,
        purpose=purpose,
        section_id=raw.section_id or None,
        entropy=entropy,
    )


def _default_id(purpose: str) -> str:
    # Connect names the built-in login fields by purpose; everything else gets a random id.
    return {"USERNAME": "username", "PASSWORD": "password", "NOTES": "notesPlain"}.get(
        purpose, new_field_id()
    )
