"""Errors of the vault package.

::

    NotFound       ─ VaultNotFound, ItemNotFound, FieldNotFound, VaultFileNotFound
    Conflict       ─ VaultExists, VaultNotEmpty, AmbiguousReference
    Denied         ─ VaultAccessDenied
    InvalidInput   ─ InvalidItem, InvalidReference, InvalidFilter, InvalidPatch
      ContentTooLarge ─ FileTooLarge
    Unavailable    ─ WrongKey, SealBroken

Messages name vaults, items and fields, never a value, a key or a ciphertext.
"""

from __future__ import annotations

from limen.errors import Conflict, ContentTooLarge, Denied, InvalidInput, NotFound, Unavailable

__all__ = [
    "AmbiguousReference",
    "FieldNotFound",
    "FileTooLarge",
    "InvalidFilter",
    "InvalidItem",
    "InvalidPatch",
    "InvalidReference",
    "ItemNotFound",
    "SealBroken",
    "VaultAccessDenied",
    "VaultExists",
    "VaultFileNotFound",
    "VaultNotEmpty",
    "VaultNotFound",
    "WrongKey",
]


class VaultNotFound(NotFound):
    """No vault has that id or name (or the caller may not see it)."""

    code = "vault-not-found"


class ItemNotFound(NotFound):
    """No live item in the vault has that id or title."""

    code = "item-not-found"


class FieldNotFound(NotFound):
    """The item has no field with that id or label."""

    code = "field-not-found"


class VaultFileNotFound(NotFound):
    """The item has no file with that id."""

    code = "file-not-found"


class VaultExists(Conflict):
    """Another vault already has that name."""

    code = "vault-exists"


class VaultNotEmpty(Conflict):
    """The vault still holds live items; delete them first (they go to the trash)."""

    code = "vault-not-empty"


class AmbiguousReference(Conflict):
    """A name matches more than one item or field; use the id instead."""

    code = "ambiguous-reference"


class VaultAccessDenied(Denied):
    """The caller's token does not grant that permission on that vault."""

    code = "vault-access-denied"


class InvalidItem(InvalidInput):
    """The item as described cannot be stored (unknown category or field type, …)."""

    code = "invalid-item"


class FileTooLarge(ContentTooLarge):
    """A file to attach is larger than an item takes (``limen.vault.MAX_FILE_BYTES``)."""

    code = "file-too-large"


class InvalidReference(InvalidInput):
    """The text is not a ``limen://vault/item[/section]/field`` reference."""

    code = "invalid-reference"


class InvalidFilter(InvalidInput):
    """The list filter is not one Limen understands (``title eq "…"``, ``name eq "…"``)."""

    code = "invalid-filter"


class InvalidPatch(InvalidInput):
    """The JSON Patch document cannot be applied to the item."""

    code = "invalid-patch"


class WrongKey(Unavailable):
    """The configured key-encryption key is not the one the vault is sealed with."""

    code = "wrong-key"


class SealBroken(Unavailable):
    """Stored secret data failed authentication: it was altered or corrupted."""

    code = "seal-broken"
