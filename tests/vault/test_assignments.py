"""The field-assignment grammar `limen item create/edit` takes, as a library call."""

from __future__ import annotations

import pytest

from limen.vault import Field, InvalidItem, Section, apply_assignments, generated_password


def test_new_fields_take_their_part_from_their_name_and_sections_are_made_once() -> None:
    fields, sections = apply_assignments(
        [],
        [],
        ["username=alice", "password=hunter2", "db.host=10.0.0.5", "db.port[string]=5432"],
    )
    by_label = {f.label: f for f in fields}
    assert by_label["username"].purpose == "USERNAME" and by_label["username"].type == "STRING"
    assert by_label["password"].purpose == "PASSWORD" and by_label["password"].type == "CONCEALED"
    assert [s.label for s in sections] == ["db"]
    assert by_label["host"].section_id == by_label["port"].section_id == sections[0].id
    assert by_label["host"].purpose == ""


def test_an_existing_field_is_changed_in_place_and_delete_removes_it() -> None:
    section = Section("s1", "db")
    fields = [
        Field(id="f1", type="CONCEALED", label="password", value="old", purpose="PASSWORD"),
        Field(id="f2", type="STRING", label="host", value="a", section_id="s1"),
        Field(id="f3", type="STRING", label="note", value="x"),
    ]
    changed, sections = apply_assignments(
        fields, [section], ["password=new", "db.host[url]=https://db", "note[delete]="]
    )
    assert [(f.id, f.value) for f in changed] == [("f1", "new"), ("f2", "https://db")]
    assert changed[0].purpose == "PASSWORD" and changed[0].type == "CONCEALED"
    assert changed[1].type == "URL"
    assert sections == [section]


def test_a_malformed_statement_is_refused_without_echoing_its_value() -> None:
    with pytest.raises(InvalidItem) as refused:
        apply_assignments([], [], ["no-equals-sign-s3cr3t-value"])
    assert "s3cr3t" not in str(refused.value)
    assert "label[[type]]=value" in str(refused.value)


def test_a_generated_password_reads_length_and_sets_in_any_order() -> None:
    field = generated_password("digits, 20 ,letters")
    assert field.generate and field.purpose == "PASSWORD"
    assert field.recipe is not None and field.recipe.length == 20
    assert set(field.recipe.character_sets) == {"DIGITS", "LETTERS"}
    assert generated_password("").recipe.length == 32
