"""The vault: envelope-encrypted items, secret references, service accounts, key rotation.

Public door for ``api/``, ``cli/`` and the other packages; everything not listed in
``__all__`` is internal.
"""

from __future__ import annotations

import typing

from limen._lazy import door as _door

if typing.TYPE_CHECKING:
    from limen.vault import service_accounts
    from limen.vault._fields import ResolvedSecret, find_field
    from limen.vault._items import MAX_FILE_BYTES, check_file_size
    from limen.vault._quick import QuickVault
    from limen.vault.assignments import (
        Assignment,
        apply_assignments,
        generated_password,
        parse_assignments,
    )
    from limen.vault.content import (
        CATEGORIES,
        CONCEALED_TYPES,
        FIELD_TYPES,
        Field,
        ItemContent,
        ItemDraft,
        Section,
        Url,
        new_field_id,
    )
    from limen.vault.envelope import Sealed, open, rewrap, seal
    from limen.vault.errors import (
        AmbiguousReference,
        FieldNotFound,
        FileTooLarge,
        InvalidFilter,
        InvalidItem,
        InvalidPatch,
        InvalidReference,
        ItemNotFound,
        SealBroken,
        VaultAccessDenied,
        VaultExists,
        VaultFileNotFound,
        VaultNotEmpty,
        VaultNotFound,
        WrongKey,
    )
    from limen.vault.generator import GeneratedPassword, Recipe, generate
    from limen.vault.keys import (
        VAULT_KEY_FILE_NAME,
        KeyFileSource,
        Keyring,
        PassphraseSource,
        RotationResult,
    )
    from limen.vault.masking import MASK, Masker
    from limen.vault.otp import totp_code
    from limen.vault.references import SCHEME, Reference, find_references, parse_reference
    from limen.vault.rotation_needed import flag_for_rotation
    from limen.vault.scopes import ADMIN_SCOPE, can, vault_scope
    from limen.vault.service import (
        FileInfo,
        ItemView,
        PolicyEntry,
        VaultService,
        VaultView,
        parse_filter,
    )
    from limen.vault.templates import references_in, render

_LAZY: typing.Final = {
    "flag_for_rotation": "limen.vault.rotation_needed",
    "QuickVault": "limen.vault._quick",
    "service_accounts": "limen.vault.service_accounts",
    "Assignment": "limen.vault.assignments",
    "apply_assignments": "limen.vault.assignments",
    "generated_password": "limen.vault.assignments",
    "parse_assignments": "limen.vault.assignments",
    "CATEGORIES": "limen.vault.content",
    "CONCEALED_TYPES": "limen.vault.content",
    "FIELD_TYPES": "limen.vault.content",
    "Field": "limen.vault.content",
    "ItemContent": "limen.vault.content",
    "ItemDraft": "limen.vault.content",
    "Section": "limen.vault.content",
    "Url": "limen.vault.content",
    "new_field_id": "limen.vault.content",
    "Sealed": "limen.vault.envelope",
    "open": "limen.vault.envelope",
    "rewrap": "limen.vault.envelope",
    "seal": "limen.vault.envelope",
    "AmbiguousReference": "limen.vault.errors",
    "FieldNotFound": "limen.vault.errors",
    "FileTooLarge": "limen.vault.errors",
    "InvalidFilter": "limen.vault.errors",
    "InvalidItem": "limen.vault.errors",
    "InvalidPatch": "limen.vault.errors",
    "InvalidReference": "limen.vault.errors",
    "ItemNotFound": "limen.vault.errors",
    "SealBroken": "limen.vault.errors",
    "VaultAccessDenied": "limen.vault.errors",
    "VaultExists": "limen.vault.errors",
    "VaultFileNotFound": "limen.vault.errors",
    "VaultNotEmpty": "limen.vault.errors",
    "VaultNotFound": "limen.vault.errors",
    "WrongKey": "limen.vault.errors",
    "GeneratedPassword": "limen.vault.generator",
    "Recipe": "limen.vault.generator",
    "generate": "limen.vault.generator",
    "VAULT_KEY_FILE_NAME": "limen.vault.keys",
    "KeyFileSource": "limen.vault.keys",
    "Keyring": "limen.vault.keys",
    "PassphraseSource": "limen.vault.keys",
    "RotationResult": "limen.vault.keys",
    "MASK": "limen.vault.masking",
    "Masker": "limen.vault.masking",
    "totp_code": "limen.vault.otp",
    "SCHEME": "limen.vault.references",
    "Reference": "limen.vault.references",
    "find_field": "limen.vault._fields",
    "MAX_FILE_BYTES": "limen.vault._items",
    "check_file_size": "limen.vault._items",
    "find_references": "limen.vault.references",
    "parse_reference": "limen.vault.references",
    "ADMIN_SCOPE": "limen.vault.scopes",
    "can": "limen.vault.scopes",
    "vault_scope": "limen.vault.scopes",
    "FileInfo": "limen.vault.service",
    "ItemView": "limen.vault.service",
    "PolicyEntry": "limen.vault.service",
    "ResolvedSecret": "limen.vault._fields",
    "VaultService": "limen.vault.service",
    "VaultView": "limen.vault.service",
    "parse_filter": "limen.vault.service",
    "references_in": "limen.vault.templates",
    "render": "limen.vault.templates",
}


__getattr__ = _door(__name__, _LAZY, globals())


__all__ = [
    "ADMIN_SCOPE",
    "CATEGORIES",
    "CONCEALED_TYPES",
    "FIELD_TYPES",
    "MASK",
    "MAX_FILE_BYTES",
    "SCHEME",
    "VAULT_KEY_FILE_NAME",
    "AmbiguousReference",
    "Assignment",
    "Field",
    "FieldNotFound",
    "FileInfo",
    "FileTooLarge",
    "GeneratedPassword",
    "InvalidFilter",
    "InvalidItem",
    "InvalidPatch",
    "InvalidReference",
    "ItemContent",
    "ItemDraft",
    "ItemNotFound",
    "ItemView",
    "KeyFileSource",
    "Keyring",
    "Masker",
    "PassphraseSource",
    "PolicyEntry",
    "QuickVault",
    "Recipe",
    "Reference",
    "ResolvedSecret",
    "RotationResult",
    "SealBroken",
    "Sealed",
    "Section",
    "Url",
    "VaultAccessDenied",
    "VaultExists",
    "VaultFileNotFound",
    "VaultNotEmpty",
    "VaultNotFound",
    "VaultService",
    "VaultView",
    "WrongKey",
    "apply_assignments",
    "can",
    "check_file_size",
    "find_field",
    "find_references",
    "flag_for_rotation",
    "generate",
    "generated_password",
    "new_field_id",
    "open",
    "parse_assignments",
    "parse_filter",
    "parse_reference",
    "references_in",
    "render",
    "rewrap",
    "seal",
    "service_accounts",
    "totp_code",
    "vault_scope",
]
