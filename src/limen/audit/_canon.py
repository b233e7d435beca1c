"""An event's canonical forms, its seal and its link: what the hash chain covers, as
pure functions (the SQL that renders a form, and the HMACs over it).

Kept apart from :mod:`limen.audit.chain`, which links events through SQLAlchemy, so that a
command appending one event without SQLAlchemy (``limen read``) seals it with the same
code; the format itself is described in that module's docstring.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from limen.store.dialect import Dialect

__all__ = [
    "GENESIS",
    "RECORDED_FIELDS",
    "canonical_sql",
    "compute_link",
    "linked_form_sql",
    "portable_sql",
    "portable_text",
    "seal",
]

GENESIS = bytes(32)
"""The "previous link" of the event at position 1."""

RECORDED_FIELDS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_kind",
    "actor_name",
    "delegation",
    "token_id",
    "action",
    "resource_type",
    "resource_id",
    "resource_name",
    "outcome",
    "reason",
    "context",
)


def portable_sql(dialect: Dialect) -> str:
    """SQL that renders an event row's portable canonical form (the same on every backend,
    and what :func:`portable_text` computes in Python)."""
    return dialect.length_prefixed_text(
        [dialect.utc_text(n) if n == "occurred_at" else dialect.as_text(n) for n in RECORDED_FIELDS]
    )


def portable_text(values: Sequence[Any]) -> str:
    """The portable canonical form of a row given as its stored texts, in
    :data:`RECORDED_FIELDS` order (times already as UTC ``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    return "".join("-" if v is None else f"{len(v)}:{v}" for v in values)


def seal(key: bytes, canon: str) -> bytes:
    """The seal of a row whose canonical form is ``canon``."""
    return hmac.digest(key, canon.encode(), "sha256")


def canonical_sql(dialect: Dialect) -> str:
    """SQL that renders an event row's canonical form as text, as earlier versions linked
    it (the backend's JSON rendering): for links before ``portable_from``."""
    # (On SQLite the time is stored as that text already: the cast changes nothing.)
    columns = [dialect.utc_text(n) if n == "occurred_at" else n for n in RECORDED_FIELDS]
    return dialect.json_array_text(columns)


def linked_form_sql(dialect: Dialect, portable_from: int) -> str:
    """SQL for the canonical form a linked row's link covers: the portable form from
    ``portable_from`` on, the backend's own rendering before it (older versions)."""
    if portable_from <= 1:
        return portable_sql(dialect)
    return (
        f"CASE WHEN chain_pos < {int(portable_from)} THEN {canonical_sql(dialect)} "
        f"ELSE {portable_sql(dialect)} END"
    )


def compute_link(
    key: bytes, previous: bytes, position: int, prev_id: str | None, canon: str
) -> bytes:
    """The link of the event at ``position``: binds its content, place and predecessor."""
    message = b"%b%d|%b|%b" % (previous, position, (prev_id or "").encode(), canon.encode())
    return hmac.digest(key, message, "sha256")
