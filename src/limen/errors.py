"""The root of every error Limen raises on purpose.

::

    LimenError
     ├── NotFound            the thing named does not exist (or is not visible to the caller)
     ├── Conflict            the request clashes with current state (duplicate name, …)
     ├── Denied              the caller is known but not allowed to do this
     ├── Unauthenticated     no valid credential came with the request
     ├── InvalidInput        the request itself is malformed or refers to something unusable
     │    ├── BadRequest     malformed where the surface's spec prescribes 400 (AuthZEN, …)
     │    │    └── MalformedBody          a request body that does not parse (JSON, …)
     │    ├── ContentTooLarge        a request body (or a file in it) over its limit
     │    └── UnsupportedMediaType   a request body of a type the route does not take
     └── Unavailable         a dependency (database, key file, …) cannot be used right now

Each domain package adds leaf errors in its own ``errors.py``. Messages are shown to the
caller as they are, so they never contain a secret, a token or a ciphertext.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

__all__ = [
    "BadRequest",
    "Conflict",
    "ContentTooLarge",
    "Denied",
    "InvalidInput",
    "LimenError",
    "MalformedBody",
    "NotFound",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMediaType",
    "unknown_choice",
]


class LimenError(Exception):
    """Base for every error Limen raises on purpose."""

    code: ClassVar[str] = "limen-error"
    title: ClassVar[str] = "Limen error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(LimenError):
    """The thing named does not exist."""

    code = "not-found"
    title = "Not found"


class Conflict(LimenError):
    """The request clashes with the current state."""

    code = "conflict"
    title = "Conflict"


class Denied(LimenError):
    """The caller is known but not allowed to do this."""

    code = "denied"
    title = "Forbidden"


class Unauthenticated(LimenError):
    """No valid credential came with the request."""

    code = "unauthenticated"
    title = "Unauthorized"


class InvalidInput(LimenError):
    """The request is malformed or refers to something unusable."""

    code = "invalid-input"
    title = "Invalid input"


class BadRequest(InvalidInput):
    """Malformed input on a surface whose spec prescribes 400 rather than 422."""

    code = "bad-request"
    title = "Bad request"


class MalformedBody(BadRequest):
    """The request body does not parse as the media type it was sent as."""

    code = "malformed-body"
    title = "Malformed request body"


class ContentTooLarge(InvalidInput):
    """The request body, or what it carries, is larger than Limen takes (RFC 9110 §15.5.14)."""

    code = "content-too-large"
    title = "Content too large"


class UnsupportedMediaType(InvalidInput):
    """The request body is of a media type the route does not take (RFC 9110 §15.5.16)."""

    code = "unsupported-media-type"
    title = "Unsupported media type"


class Unavailable(LimenError):
    """A dependency cannot be used right now."""

    code = "unavailable"
    title = "Service unavailable"


def unknown_choice(what: str, value: object, choices: Iterable[str]) -> str:
    """The one wording of a value outside a fixed set, wherever it is checked (a domain
    function, or the remote CLI reading the API's answer), so both say the same."""
    return f"unknown {what} {value!r}; use one of {', '.join(choices)}"
