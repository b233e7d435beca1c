"""Errors of the identity package."""

from __future__ import annotations

from limen.errors import Conflict, InvalidInput, NotFound, Unauthenticated

__all__ = [
    "IdentityExists",
    "IdentityNotFound",
    "InvalidIdentity",
    "InvalidToken",
    "LastAdmin",
    "NotInitialised",
    "StatusConflict",
    "TokenExpired",
]


class IdentityNotFound(NotFound):
    """No identity has that id, name or email."""

    code = "identity-not-found"


class IdentityExists(Conflict):
    """Another identity already has that name or email."""

    code = "identity-exists"


class InvalidIdentity(InvalidInput):
    """The identity as described cannot exist (agent without owner, bad kind, …)."""

    code = "invalid-identity"


class StatusConflict(Conflict):
    """The identity's status does not allow that change."""

    code = "status-conflict"


class LastAdmin(Conflict):
    """The change would leave no active admin to administer Limen."""

    code = "last-admin"


class InvalidToken(Unauthenticated):
    """The bearer token is unknown, expired, revoked, or its identity is not active.

    One error for every reason, so a caller learns nothing about which tokens exist.
    """

    code = "invalid-token"


class NotInitialised(InvalidInput):
    """This data directory or database has not been initialised yet."""

    code = "not-initialised"


class TokenExpired(InvalidToken):
    """The bearer token was valid but its lifetime has ended; get a new one."""

    code = "token-expired"
