"""Secret references: ``limen://<vault>/<item>[/<section>]/<field>``.

Each part is a name or an id; a part that contains ``/`` is written percent-encoded
(``%2F``). The syntax mirrors 1Password's ``op://`` references so that templates and
``.env`` files translate one-for-one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote

from limen.vault.content import Field, ItemContent, Section
from limen.vault.errors import AmbiguousReference, FieldNotFound, InvalidReference

__all__ = ["SCHEME", "Reference", "find_field", "find_references", "parse_reference"]

SCHEME: Final = "limen://"
# Inside templates a reference ends at whitespace, a quote or the closing braces.
_IN_TEXT: Final = re.compile(r"limen://[^\s'\"{}]+")


@dataclass(frozen=True, slots=True)
class Reference:
    vault: str
    item: str
    field: str
    section: str | None = None

    def __str__(self) -> str:
        parts = [self.vault, self.item, *([self.section] if self.section else []), self.field]
        return SCHEME + "/".join(quote(p, safe=" @+-._~") for p in parts)


def parse_reference(text: str) -> Reference:
    """Parse one reference; :class:`InvalidReference` says what is wrong with it."""
    raw = (text or "").strip()
    if not raw.startswith(SCHEME):
        raise InvalidReference(f"a secret reference starts with {SCHEME}")
    parts = [unquote(p) for p in raw[len(SCHEME) :].split("/")]
    if len(parts) not in (3, 4) or any(not p.strip() for p in parts):
        raise InvalidReference(
            "a secret reference is limen://<vault>/<item>/<field> "
            "or limen://<vault>/<item>/<section>/<field>"
        )
    if len(parts) == 3:
        return Reference(parts[0], parts[1], parts[2])
    return Reference(parts[0], parts[1], parts[3], section=parts[2])


def find_references(text: str) -> list[str]:
    """Every reference-looking substring of ``text``, in order of appearance."""
    return _IN_TEXT.findall(text)


def find_field(content: ItemContent, ref: Reference) -> Field:
    """The field of an item's ``content`` that ``ref`` names: by id, then label, then label
    ignoring case, within its section if it names one."""
    candidates: list[Field] = list(content.fields)
    if ref.section is not None:
        section = _find_section(content.sections, ref.section)
        candidates = [f for f in candidates if f.section_id == section.id]
    for matcher in (
        lambda f: f.id == ref.field,
        lambda f: f.label == ref.field,
        lambda f: (f.label or "").lower() == ref.field.lower(),
    ):
        found = [f for f in candidates if matcher(f)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise AmbiguousReference(
                f"{len(found)} fields match {ref.field!r}; add the section or use the field id"
            )
    raise FieldNotFound(f"no field {ref.field!r} in {ref.vault}/{ref.item}")


def _find_section(sections: Sequence[Section], name: str) -> Section:
    for matcher in (
        lambda s: s.id == name,
        lambda s: s.label == name,
        lambda s: (s.label or "").lower() == name.lower(),
    ):
        found = [s for s in sections if matcher(s)]
        if found:
            return found[0]
    raise FieldNotFound(f"no section {name!r}")
