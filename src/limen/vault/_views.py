"""What the vault service hands back: views of vaults, items, files, resolved references
and rotation-policy entries, and the builders that make them from rows. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from limen.audit import Actor
from limen.errors import InvalidInput
from limen.store.models.vault import Vault, VaultItem
from limen.vault._fields import ResolvedSecret
from limen.vault.content import ItemContent, ItemDraft
from limen.vault.errors import InvalidFilter

__all__ = [
    "MAX_SECRET_AGE_DAYS",
    "FileInfo",
    "ItemView",
    "PolicyEntry",
    "ResolvedSecret",
    "VaultView",
    "check_age",
    "draft_of",
    "editor",
    "item_view",
    "parse_filter",
    "vault_view",
]


@dataclass(frozen=True, slots=True)
class VaultView:
    id: str
    name: str
    description: str | None
    items: int
    attribute_version: int
    content_version: int
    max_secret_age_days: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FileInfo:
    id: str
    name: str
    size: int
    section_id: str | None
    item_id: str
    vault_id: str


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item as callers see it; ``content`` is ``None`` in summaries (lists)."""

    id: str
    vault_id: str
    vault_name: str
    title: str
    category: str
    tags: tuple[str, ...]
    favorite: bool
    version: int
    latest_version: int
    trashed: bool
    created_at: datetime
    updated_at: datetime
    last_edited_by: str | None
    max_secret_age_days: int | None
    secrets_changed_at: datetime
    content: ItemContent | None = None
    files: tuple[FileInfo, ...] = ()
    rotation_needed_since: datetime | None = None
    """Someone who could read it left (offboarding) since its secret last changed."""
    rotation_needed_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    """One item under a rotation policy or flagged for rotation, and whether it is due."""

    vault_id: str
    vault_name: str
    item_id: str
    title: str
    max_age_days: int | None
    """The rotation policy (the item's or its vault's); ``None``: only flagged."""
    age_days: int
    last_rotated: datetime
    out_of_policy: bool
    readers: tuple[str, ...]
    """Names of the identities whose live tokens can read the item."""
    rotation_needed_since: datetime | None = None
    """Someone who could read it left (offboarding) since its secret last changed."""
    rotation_needed_reason: str | None = None

    @property
    def due(self) -> bool:
        """Whether its secret should be rotated now: out of policy, or flagged."""
        return self.out_of_policy or self.rotation_needed_since is not None

    def to_document(self) -> dict[str, Any]:
        """The entry as ``limen vault report --json`` prints it and ``/v1/vault-report``
        answers it."""
        flagged = None
        if self.rotation_needed_since is not None:
            flagged = {
                "since": self.rotation_needed_since.isoformat(),
                "reason": self.rotation_needed_reason,
            }
        return {
            "vault": self.vault_name,
            "vault_id": self.vault_id,
            "item": self.title,
            "item_id": self.item_id,
            "age_days": self.age_days,
            "max_age_days": self.max_age_days,
            "last_rotated": self.last_rotated.isoformat(),
            "out_of_policy": self.out_of_policy,
            "rotation_needed": flagged,
            "readers": list(self.readers),
        }


def parse_filter(expression: str | None, allowed: Sequence[str]) -> tuple[str, str] | None:
    """Parse Connect's SCIM-style filter ``<attr> eq "<value>"`` (the one form Connect uses)."""
    if expression is None or not expression.strip():
        return None
    text = expression.strip()
    attr, _, rest = text.partition(" ")
    op, _, value = rest.strip().partition(" ")
    value = value.strip()
    if (
        attr not in allowed
        or op.lower() != "eq"
        or len(value) < 2
        or value[0] != '"'
        or value[-1] != '"'
    ):
        raise InvalidFilter(
            f'filters look like {allowed[0]} eq "..."; supported attributes: ' + ", ".join(allowed)
        )
    return attr, value[1:-1].replace('\\"', '"')


def draft_of(item: VaultItem, content: ItemContent) -> ItemDraft:
    return ItemDraft(
        title=item.title,
        category=item.category,
        tags=list(item.tags or []),
        favorite=item.favorite,
        fields=list(content.fields),
        sections=list(content.sections),
        urls=list(content.urls),
        max_secret_age_days=item.max_secret_age_days,
    )


def vault_view(vault: Vault, items: int) -> VaultView:
    return VaultView(
        id=vault.id,
        name=vault.name,
        description=vault.description,
        items=items,
        attribute_version=vault.attribute_version,
        content_version=vault.content_version,
        max_secret_age_days=vault.max_secret_age_days,
        created_at=vault.created_at,
        updated_at=vault.updated_at,
    )


def item_view(
    item: Any, vault_id: str, vault_name: str, content: ItemContent | None = None
) -> ItemView:
    """The view of ``item``: a :class:`VaultItem` or a row with the same columns."""
    return ItemView(
        id=item.id,
        vault_id=vault_id,
        vault_name=vault_name,
        title=item.title,
        category=item.category,
        tags=tuple(item.tags or ()),
        favorite=item.favorite,
        version=item.version,
        latest_version=item.version,
        trashed=item.deleted_at is not None,
        created_at=item.created_at,
        updated_at=item.updated_at,
        last_edited_by=item.last_edited_by,
        max_secret_age_days=item.max_secret_age_days,
        secrets_changed_at=item.secrets_changed_at,
        content=content,
        rotation_needed_since=item.rotation_needed_since,
        rotation_needed_reason=item.rotation_needed_reason,
    )


def editor(actor: Actor) -> str:
    return actor.identity_id or actor.name


MAX_SECRET_AGE_DAYS: Final = 36_500


def check_age(days: int | None) -> None:
    if days is not None and not 1 <= days <= MAX_SECRET_AGE_DAYS:
        raise InvalidInput(
            f"the maximum secret age is between 1 and {MAX_SECRET_AGE_DAYS} days (100 years)"
        )
