"""Cedar policy text without Cedar: the realms a policy belongs to and its statements.

Kept apart from :mod:`limen.access.policies` (which needs Cedar and the database) so that
a command talking to a server checks ``--realm`` and counts statements without either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["REALMS", "Statement", "split_statements"]

REALMS: Final = ("access", "admin", "schema")
"""``access``: decisions PEPs ask for (AuthZEN); ``admin``: Limen's own operations (roles);
``schema``: Cedar schema fragments that extend the ``access`` realm's schema with an
application's entity types, actions and properties (see :mod:`limen.access.schema`)."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One Cedar statement: its text and the 1-based line it starts on."""

    text: str
    line: int


def split_statements(text: str) -> list[Statement]:
    """Split Cedar text at top-level ``;`` (outside strings and ``//`` comments)."""
    statements: list[Statement] = []
    start = 0
    start_line: int | None = None
    line = 1
    i = 0
    in_string = False
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
            elif ch == "\n":
                line += 1
        elif ch == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif ch == "\n":
            line += 1
        elif ch == '"':
            in_string = True
            start_line = start_line or line
        elif ch == ";":
            statements.append(Statement(text[start : i + 1], start_line or line))
            start = i + 1
            start_line = None
        elif not ch.isspace():
            start_line = start_line or line
        i += 1
    if start_line is not None:
        statements.append(Statement(text[start:], start_line))
    return statements
