"""Vaults, items, their encrypted versions and files, and the vault's key-encryption keys.

Titles, categories and tags stay in clear so that lists and filters work without
decrypting; everything secret (fields, sections, URLs, file bodies) is sealed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from limen.ids import new_id
from limen.store.models.base import Base, utcnow

__all__ = ["Vault", "VaultFile", "VaultItem", "VaultItemVersion", "VaultKek"]


class Vault(Base):
    __tablename__ = "vaults"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    max_secret_age_days: Mapped[int | None] = mapped_column(Integer)
    """Rotation policy: secrets older than this many days are out of policy."""
    attribute_version: Mapped[int] = mapped_column(Integer, default=1)
    content_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class VaultItem(Base):
    __tablename__ = "vault_items"
    __table_args__ = (Index("ix_vault_items_vault_title", "vault_id", "title"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    vault_id: Mapped[str] = mapped_column(ForeignKey("vaults.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    favorite: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    max_secret_age_days: Mapped[int | None] = mapped_column(Integer)
    """Overrides the vault's rotation policy for this item."""
    secrets_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When a field value last changed: the age the rotation policy measures."""
    rotation_needed_since: Mapped[datetime | None] = mapped_column(default=None)
    """Set when someone who could read the item left (offboarding); cleared when its
    secret values change."""
    rotation_needed_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_edited_by: Mapped[str | None] = mapped_column(String(200))
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    """Live files attached; lets the read path skip the files query for most items."""
    deleted_at: Mapped[datetime | None]


class VaultItemVersion(Base):
    """One immutable version of an item's sealed content."""

    __tablename__ = "vault_item_versions"

    item_id: Mapped[str] = mapped_column(ForeignKey("vault_items.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))


class VaultFile(Base):
    __tablename__ = "vault_files"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    item_id: Mapped[str] = mapped_column(ForeignKey("vault_items.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(Integer)
    section_id: Mapped[str | None] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class VaultKek(Base):
    """A key-encryption key's public facts: id, source, and the passphrase salt.

    The key itself is never stored. The row with no ``retired_at`` is the one every
    data key is wrapped under.
    """

    __tablename__ = "vault_keks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    """``key-file`` or ``passphrase``."""
    salt: Mapped[bytes | None] = mapped_column(LargeBinary)
    kdf_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]
