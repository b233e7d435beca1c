"""The read's lookup: an id or a title finds the right item, through its own index."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from limen.audit import Actor
from limen.store import Database
from limen.vault import Field, ItemDraft, VaultService
from limen.vault._reads import _READ_QUERIES


def _draft(title: str, value: str) -> ItemDraft:
    return ItemDraft(
        title=title,
        category="PASSWORD",
        fields=[Field(id="", type="CONCEALED", label="password", value=value)],
    )


def test_an_id_finds_its_item_even_where_a_title_looks_like_an_id(
    client: TestClient, vaults: VaultService, service_token: Callable[..., str]
) -> None:
    vaults.create_vault(Actor.operator(), "payments")
    first = vaults.create_item(Actor.operator(), "payments", _draft("first", "one"))
    # A second item titled with the first one's id: the id still means the first item.
    second = vaults.create_item(Actor.operator(), "payments", _draft(first.id, "two"))
    twins = [vaults.create_item(Actor.operator(), "payments", _draft("twin", v)) for v in "ab"]
    headers = {"Authorization": f"Bearer {service_token('ci', 'payments:read')}"}

    def read(ref: str) -> tuple[int, str | None]:
        answer = client.get(f"/v1/vaults/{first.vault_id}/items/{ref}", headers=headers)
        return answer.status_code, answer.json().get("id")

    assert read(first.id) == (200, first.id)
    assert read(second.id) == (200, second.id)
    assert read("first") == (200, first.id)
    assert read(twins[1].id) == (200, twins[1].id)
    assert read("twin")[0] == 409  # two items share the title: say so, return neither


def test_a_read_by_id_searches_the_items_key_not_the_whole_vault(
    db: Database, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the plan checked here is SQLite's; PostgreSQL plans from its statistics")
    lookup = _READ_QUERIES[(True, True)]
    compiled = lookup._compiled_for(db.engine.dialect)
    with db.reading() as reader:
        plan = [
            row[-1]
            for row in reader._rows(
                "EXPLAIN QUERY PLAN " + compiled.sql,
                compiled.bind({"vault_ref": "v" * 26, "item_ref": "i" * 26}),
            )
        ]
    searches = [step for step in plan if "vault_items" in step]
    assert searches and all("vault_id=? AND title=?" in s or "(id=?)" in s for s in searches)
