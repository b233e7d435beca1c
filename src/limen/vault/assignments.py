"""Field assignments: ``[section.]label[[type]]=value``, as 1Password's ``op`` accepts them.

``limen item create`` and ``limen item edit`` take a list of such statements; this module
turns them into the item's fields and sections, so any shell (the CLI today, the console
or a remote client tomorrow) edits items with the same grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from limen.vault.content import Field, Section, new_field_id
from limen.vault.errors import InvalidItem
from limen.vault.generator import Recipe

__all__ = ["Assignment", "apply_assignments", "generated_password", "parse_assignments"]

_ASSIGNMENT = re.compile(
    r"^(?:(?P<section>[^.=\[\]]+)\.)?(?P<label>[^.=\[\]]+)(?:\[(?P<type>[A-Za-z_]+)\])?=(?P<value>.*)$",
    re.DOTALL,
)
# A field named like one of these, outside any section, plays that part in the item (the
# username and password a browser extension fills, the notes shown first), as in `op`.
_PURPOSES = {"username": "USERNAME", "password": "PASSWORD", "notesplain": "NOTES"}


@dataclass(frozen=True, slots=True)
class Assignment:
    """One parsed statement. ``field_type`` ``delete`` removes the field."""

    section_id: str | None
    label: str
    field_type: str | None
    value: str


def parse_assignments(
    statements: list[str], sections: list[Section]
) -> tuple[list[Assignment], list[Section]]:
    """The statements, with a section made for each section label not yet among
    ``sections`` (returned with them)."""
    parsed = []
    sections = list(sections)
    for text in statements:
        match = _ASSIGNMENT.match(text)
        if not match:
            # The statement may hold a secret: the message never repeats it.
            raise InvalidItem(
                "fields are written [section.]label[[type]]=value, e.g. password[concealed]=…"
            )
        section_label = match.group("section")
        section_id = None
        if section_label:
            existing = next(
                (s for s in sections if section_label in (s.label, s.id)),
                None,
            )
            if existing is None:
                existing = Section(new_field_id(), section_label)
                sections.append(existing)
            section_id = existing.id
        parsed.append(
            Assignment(section_id, match.group("label"), match.group("type"), match.group("value"))
        )
    return parsed, sections


def apply_assignments(
    fields: list[Field], sections: list[Section], statements: list[str]
) -> tuple[list[Field], list[Section]]:
    """``fields`` and ``sections`` after the statements: a field matched by label or id
    (within the statement's section, if it names one) takes the new value (and type, if
    given), ``[delete]`` removes it, and any other statement adds a field."""
    parsed, sections = parse_assignments(statements, sections)
    fields = list(fields)
    for assignment in parsed:
        label, section_id = assignment.label, assignment.section_id
        index = next(
            (
                i
                for i, f in enumerate(fields)
                if label in (f.label, f.id) and section_id in (None, f.section_id)
            ),
            None,
        )
        field_type = assignment.field_type
        if field_type and field_type.lower() == "delete":
            if index is not None:
                fields.pop(index)
            continue
        if index is not None:
            current = fields[index]
            fields[index] = Field(
                id=current.id,
                type=(field_type or current.type).upper(),
                label=current.label,
                value=assignment.value,
                purpose=current.purpose,
                section_id=current.section_id,
            )
            continue
        purpose = _PURPOSES.get(label.lower(), "") if section_id is None else ""
        default_type = "CONCEALED" if purpose == "PASSWORD" else "STRING"
        fields.append(
            Field(
                id="",
                type=(field_type or default_type).upper(),
                label=label,
                value=assignment.value,
                purpose=purpose,
                section_id=section_id,
            )
        )
    return fields, sections


def generated_password(spec: str) -> Field:
    """The password field ``--generate-password 32,letters,digits`` asks for: a length
    and character sets, in any order (the default sets when none is named)."""
    length, sets = 32, []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if part.isdigit():
            length = int(part)
        else:
            sets.append(part.upper())
    recipe = Recipe(length=length, character_sets=tuple(sets) or Recipe().character_sets)
    return Field(
        id="password",
        type="CONCEALED",
        label="password",
        purpose="PASSWORD",
        generate=True,
        recipe=recipe,
    )
