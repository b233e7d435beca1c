"""Identities — humans, AI agents and services — and the credentials they present."""

from limen.identity.credentials import (
    TOKEN_PREFIX,
    StatusChanges,
    VerifiedTokens,
    authenticate,
    authenticate_async,
    hash_token,
    issue_api_token,
    revoke_api_token,
    tokens_of,
    touch_if_stale,
)
from limen.identity.errors import (
    IdentityExists,
    IdentityNotFound,
    InvalidIdentity,
    InvalidToken,
    LastAdmin,
    NotInitialised,
    StatusConflict,
)
from limen.identity.service import (
    STATUS_TOPIC,
    IdentityPage,
    create,
    get,
    list_identities,
    reactivate,
    suspend,
)
from limen.store.models import Identity, IdentityKind, IdentityStatus

__all__ = [
    "STATUS_TOPIC",
    "TOKEN_PREFIX",
    "Identity",
    "IdentityExists",
    "IdentityKind",
    "IdentityNotFound",
    "IdentityPage",
    "IdentityStatus",
    "InvalidIdentity",
    "InvalidToken",
    "LastAdmin",
    "NotInitialised",
    "StatusChanges",
    "StatusConflict",
    "VerifiedTokens",
    "authenticate",
    "authenticate_async",
    "create",
    "get",
    "hash_token",
    "issue_api_token",
    "list_identities",
    "reactivate",
    "revoke_api_token",
    "suspend",
    "tokens_of",
    "touch_if_stale",
]
