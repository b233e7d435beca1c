"""Which field of an item a reference names, and the value it resolves to.

Free of SQLAlchemy, so that ``limen read`` on the embedded database
(:mod:`limen.vault._quick`) finds a field exactly as :meth:`VaultService.resolve` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from limen.vault.content import Field, ItemContent, Section
from limen.vault.errors import AmbiguousReference, FieldNotFound
from limen.vault.references import Reference

__all__ = ["ResolvedSecret", "find_field", "find_section"]


@dataclass(frozen=True, slots=True)
class ResolvedSecret:
    reference: str
    value: str = field(repr=False)
    vault_id: str
    item_id: str
    field_id: str


def find_field(content: ItemContent, ref: Reference) -> Field:
    candidates: list[Field] = list(content.fields)
    if ref.section is not None:
        section = find_section(content.sections, ref.section)
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


def find_section(sections: Sequence[Section], name: str) -> Section:
    for matcher in (
        lambda s: s.id == name,
        lambda s: s.label == name,
        lambda s: (s.label or "").lower() == name.lower(),
    ):
        found = [s for s in sections if matcher(s)]
        if found:
            return found[0]
    raise FieldNotFound(f"no section {name!r}")
