"""The vault: envelope-encrypted items, secret references, service accounts, key rotation.

Public door for ``api/``, ``cli/`` and the other packages; everything not listed in
``__all__`` is internal.
"""

from limen.vault import service_accounts
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
    InvalidFilter,
    InvalidItem,
    InvalidPatch,
    InvalidReference,
    ItemNotFound,
    SealBroken,
    VaultAccessDenied,
    VaultExists,
    VaultFileNotFound,
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
    ResolvedSecret,
    VaultService,
    VaultView,
    parse_filter,
)
from limen.vault.templates import references_in, render

__all__ = [
    "ADMIN_SCOPE",
    "CATEGORIES",
    "CONCEALED_TYPES",
    "FIELD_TYPES",
    "MASK",
    "SCHEME",
    "VAULT_KEY_FILE_NAME",
    "AmbiguousReference",
    "Assignment",
    "Field",
    "FieldNotFound",
    "FileInfo",
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
    "VaultNotFound",
    "VaultService",
    "VaultView",
    "WrongKey",
    "apply_assignments",
    "can",
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
