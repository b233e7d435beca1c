"""Many clients reading secrets at once: every read is in the event log before it returns."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, record
from limen.audit.durable import EventWriter
from limen.config import Settings
from limen.store import Database
from limen.store.models import Event
from limen.vault import Field, ItemDraft
from tests.conftest import LiveServer
from tests.vault.factories import issue_token, vault_service

READERS = 12
READS_EACH = 10


def _read_events(db: Database) -> list[tuple[str, str | None]]:
    with db.unit_of_work(readonly=True) as uow:
        rows = uow.session.execute(
            sa.select(Event.resource_id, Event.actor_name).where(Event.action == "vault.item.read")
        )
        return [tuple(row) for row in rows]


def test_every_concurrent_read_is_recorded_before_its_answer(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    vaults = vault_service(db, settings)
    vaults.create_vault(Actor.operator(), "payments")
    draft = ItemDraft(
        title="stripe",
        category="API_CREDENTIAL",
        fields=[Field(id="", type="CONCEALED", label="credential", value="value-for-a-test")],
    )
    item = vaults.create_item(Actor.operator(), "payments", draft)
    tokens = [issue_token(db, f"reader-{n}", "payments:read") for n in range(READERS)]
    recorded_at_answer: list[int] = []

    async def reader(token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=live_server.url, headers=headers) as http:
            for _ in range(READS_EACH):
                response = await http.get(f"/v1/vaults/{item.vault_id}/items/{item.id}")
                assert response.status_code == 200
                assert response.json()["fields"][0]["value"] == "value-for-a-test"
                # The event is committed before the secret leaves the server.
                recorded_at_answer.append(len(await asyncio.to_thread(_read_events, db)))

    async def main() -> None:
        await asyncio.gather(*(reader(token) for token in tokens))

    asyncio.run(main())
    events = _read_events(db)
    assert len(events) == READERS * READS_EACH
    assert {resource for resource, _ in events} == {item.id}
    per_reader = {name: 0 for name in (f"reader-{n}" for n in range(READERS))}
    for _, name in events:
        per_reader[name] += 1
    assert set(per_reader.values()) == {READS_EACH}
    # Each answer saw at least as many events as answers that had returned before it.
    assert all(seen >= n + 1 for n, seen in enumerate(sorted(recorded_at_answer)))


def test_a_failed_group_commit_reaches_every_caller_and_writes_nothing(db: Database) -> None:
    writer = EventWriter(db)

    def good(session: Session) -> None:
        record(session, Actor.operator(), "test.write")

    def broken(session: Session) -> None:
        raise RuntimeError("the disk is full")

    async def main() -> list[BaseException | None]:
        results = await asyncio.gather(
            writer.written([good]), writer.written([broken]), return_exceptions=True
        )
        return list(results)

    try:
        results = asyncio.run(main())
    finally:
        writer.close()
    assert [str(r) for r in results] == ["the disk is full", "the disk is full"]
    with db.unit_of_work(readonly=True) as uow:
        assert (
            uow.session.scalar(
                sa.select(sa.func.count()).select_from(Event).where(Event.action == "test.write")
            )
            == 0
        )
    with pytest.raises(RuntimeError):
        writer.write([broken])
    writer.close()
