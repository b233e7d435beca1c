"""Page cursors: the one form every paged listing hands out and takes back.

A cursor is opaque to callers: URL-safe base64 of a versioned document naming the listing
it continues (``kind``, which includes any filter the next page must keep) and the keyset
values of the previous page's last row, followed by a digest of that document. A cursor
that was cut, edited or made up fails the digest or the version and is refused as an
:class:`InvalidCursor` (400 over HTTP), never read as a position.

The digest is not keyed: a cursor grants nothing (every page is authorised and filtered
afresh), so forging one gets nobody past what their own query would show; it only makes
damage and edits fail loudly instead of silently starting from elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Final

from limen.errors import BadRequest

__all__ = ["InvalidCursor", "decode_cursor", "encode_cursor"]

_VERSION: Final = 1
_DIGEST: Final = 8
_MAX_LENGTH: Final = 2000

Value = str | int | None


class InvalidCursor(BadRequest):
    """A page cursor that this server did not issue, that was damaged, or that belongs to
    another listing."""

    code = "invalid-cursor"
    title = "Invalid cursor"


def encode_cursor(kind: str, values: Sequence[Value]) -> str:
    """The cursor that continues listing ``kind`` after the row whose keys are ``values``."""
    document = json.dumps([_VERSION, kind, list(values)], separators=(",", ":")).encode()
    digest = hashlib.blake2b(document, digest_size=_DIGEST).digest()
    return base64.urlsafe_b64encode(document + digest).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, kind: str, *, name: str = "cursor") -> list[Value]:
    """The keyset values ``cursor`` carries, if it is one this server issued for ``kind``.

    ``name`` is what the listing calls its cursor parameter, for the error's detail.
    """
    try:
        if len(cursor) > _MAX_LENGTH:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        document, digest = raw[:-_DIGEST], raw[-_DIGEST:]
        if len(raw) <= _DIGEST or hashlib.blake2b(document, digest_size=_DIGEST).digest() != (
            digest
        ):
            raise ValueError
        version, issued_for, values = json.loads(document)
        if version != _VERSION or not isinstance(values, list):
            raise ValueError
        if not all(v is None or isinstance(v, str | int) for v in values):
            raise ValueError
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise InvalidCursor(f"invalid cursor: {name} is not one this server issued") from None
    if issued_for != kind:
        raise InvalidCursor(f"invalid cursor: {name} continues a different list or filter")
    return values
