"""A read answered from a node's kept lookup is never older than a write that node has
heard of: at once for its own writes, by NOTIFY for other nodes' (``_kept_reads``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from limen.api import create_app
from limen.audit import Actor
from limen.config import Settings
from limen.store import Database
from limen.store.models import Event
from limen.store.models.vault import Vault, VaultItem
from limen.vault import Field, ItemDraft, VaultService
from tests.respond._waiting import wait_for
from tests.vault.factories import vault_service


def _draft(value: str) -> ItemDraft:
    return ItemDraft(
        title="stripe",
        category="API_CREDENTIAL",
        fields=[Field(id="", type="CONCEALED", label="credential", value=value)],
    )


def _reader(client: TestClient, token: str, path: str) -> Callable[[], tuple[int, str | None]]:
    def read() -> tuple[int, str | None]:
        answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
        if answer.status_code != 200:
            return answer.status_code, None
        return 200, answer.json()["fields"][0]["value"]

    return read


def _elsewhere(db: Database, settings: Settings) -> tuple[Database, VaultService]:
    """Another process on the same database, as the CLI or another API node would be."""
    other = Database(db.url)
    return other, vault_service(other, settings)


def test_a_read_after_a_write_sees_it_on_this_node_at_once_and_from_elsewhere_soon(
    client: TestClient,
    db: Database,
    settings: Settings,
    vaults: VaultService,
    service_token: Callable[..., str],
    backend: str,
) -> None:
    vaults.create_vault(Actor.operator(), "payments")
    item = vaults.create_item(Actor.operator(), "payments", _draft("first"))
    read = _reader(
        client, service_token("ci", "payments:read"), f"/v1/vaults/{item.vault_id}/items/{item.id}"
    )
    assert read() == read() == (200, "first")  # the second may come from what the first kept

    # On this node, as the API or a playbook would write: the very next read sees it.
    vaults.replace_item(Actor.operator(), "payments", item.id, _draft("second"))
    assert read() == (200, "second")

    other, elsewhere = _elsewhere(db, settings)
    try:
        assert read() == (200, "second")
        elsewhere.replace_item(Actor.operator(), "payments", item.id, _draft("third"))
        # SQLite looks the item up on every read; PostgreSQL hears of the write by NOTIFY,
        # well within the seconds a kept lookup may live without one.
        if backend == "sqlite":
            assert read() == (200, "third")
        else:
            wait_for(lambda: read() == (200, "third"), seconds=2)

        elsewhere.delete_item(Actor.operator(), "payments", item.id)
        if backend == "sqlite":
            assert read()[0] == 404
        else:
            wait_for(lambda: read()[0] == 404, seconds=2)
    finally:
        other.dispose()

    with db.unit_of_work(readonly=True) as uow:
        reads = uow.session.scalar(
            sa.select(sa.func.count()).where(Event.action == "vault.item.read")
        )
    assert reads is not None and reads >= 5  # every answered read, kept or looked up


def test_a_node_that_is_not_listening_serves_nothing_it_cannot_vouch_for(
    client: TestClient,
    db: Database,
    settings: Settings,
    vaults: VaultService,
    service_token: Callable[..., str],
) -> None:
    vaults.create_vault(Actor.operator(), "payments")
    item = vaults.create_item(Actor.operator(), "payments", _draft("first"))
    read = _reader(
        client, service_token("ci", "payments:read"), f"/v1/vaults/{item.vault_id}/items/{item.id}"
    )
    assert read() == read() == (200, "first")

    db.broadcaster.stop()  # this node would no longer hear of other nodes' changes
    other, elsewhere = _elsewhere(db, settings)
    try:
        elsewhere.replace_item(Actor.operator(), "payments", item.id, _draft("second"))
    finally:
        other.dispose()
    # It can vouch neither for the item it kept nor for the reader's standing: it fails
    # closed rather than answer from what it last knew …
    assert read() == (503, None)
    # … and once it hears again, it catches up before answering.
    db.broadcaster.start()
    assert db.broadcaster.ready.wait(5)
    assert wait_for(lambda: read() == (200, "second"), seconds=2)


def test_every_committed_vault_write_is_announced_once_and_a_rolled_back_one_never(
    db: Database, vaults: VaultService
) -> None:
    vaults.keyring.current()  # the first use of the key stores its row: a write of its own
    heard: list[object] = []
    db.broadcaster.subscribe("vault.changed", heard.append)
    vaults.create_vault(Actor.operator(), "payments")  # flushes twice, commits once
    assert heard == [None]

    with pytest.raises(RuntimeError), db.unit_of_work() as uow:
        uow.session.add(Vault(name="ops"))
        uow.flush()
        raise RuntimeError("the rest of the change failed")
    assert heard == [None]

    with db.unit_of_work() as uow:  # a bulk statement, not an object the session tracks
        uow.session.execute(sa.update(Vault).values(description="cards"))
    assert heard == [None, None]


def test_with_reuse_turned_off_a_read_sees_even_an_unannounced_write_at_once(
    settings: Settings,
    db: Database,
    vaults: VaultService,
    service_token: Callable[..., str],
) -> None:
    strict = settings.model_copy(update={"vault_reuse_seconds": 0})
    vaults.create_vault(Actor.operator(), "payments")
    item = vaults.create_item(Actor.operator(), "payments", _draft("first"))
    headers = {"Authorization": f"Bearer {service_token('ci', 'payments:read')}"}
    path = f"/v1/vaults/{item.vault_id}/items/{item.id}"
    with TestClient(create_app(strict, database=db), base_url="http://limen.test") as client:
        assert client.get(path, headers=headers).json()["title"] == "stripe"
        assert client.get(path, headers=headers).json()["title"] == "stripe"
        # Raw SQL on a connection of its own: no unit of work, so nobody is told.
        with db.engine.begin() as connection:
            connection.execute(sa.update(VaultItem).values(title="stripe-live"))
        assert client.get(path, headers=headers).json()["title"] == "stripe-live"
