"""The official ``onepasswordconnectsdk`` clients, unchanged, against a live Limen."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from onepasswordconnectsdk import client as op_client
from onepasswordconnectsdk.client import new_client, new_client_from_environment
from onepasswordconnectsdk.config import load_dict
from onepasswordconnectsdk.errors import FailedToRetrieveItemException
from onepasswordconnectsdk.models import Field, GeneratorRecipe, Item, ItemVault, Section

from limen.audit import Actor
from limen.config import Settings
from limen.installation import InitResult
from limen.store import Database
from limen.vault import VaultService
from tests.vault.factories import issue_token, vault_service

SECRET = "hunter2-Very-Secret-7f3a9c"


@pytest.fixture
def vaults(db: Database, settings: Settings, installed: InitResult) -> VaultService:
    return vault_service(db, settings)


@pytest.fixture
def service_token(db: Database, installed: InitResult) -> Callable[..., str]:
    return lambda name, *grants, **kw: issue_token(db, name, *grants, **kw)


def _login_item(vault_id: str, title: str = "payments-db") -> Item:
    return Item(
        vault=ItemVault(id=vault_id),
        title=title,
        category="LOGIN",
        tags=["prod"],
        sections=[Section(id="conn", label="Connection")],
        fields=[
            Field(value="app", purpose="USERNAME"),
            Field(value=SECRET, purpose="PASSWORD"),
            Field(id="host", label="host", value="db.internal", section={"id": "conn"}),
        ],
    )


def test_sync_client_create_get_list_update_files_delete_and_load_dict(
    live_server,
    vaults: VaultService,
    service_token: Callable[..., str],
    monkeypatch,
    tmp_path,
) -> None:
    vault = vaults.create_vault(Actor.operator(), "payments")
    token = service_token("ci-deployer", "payments:write")
    monkeypatch.setenv("OP_CONNECT_HOST", live_server.url)
    monkeypatch.setenv("OP_CONNECT_TOKEN", token)
    client = new_client_from_environment()

    assert [v.name for v in client.get_vaults()] == ["payments"]
    assert client.get_vault_by_title("payments").id == vault.id

    created = client.create_item(vault.id, _login_item(vault.id))
    assert len(created.id) == 26 and created.version == 1
    password = next(f for f in created.fields if f.purpose == "PASSWORD")
    assert password.value == SECRET and password.type == "CONCEALED"

    by_id = client.get_item(created.id, vault.id)
    by_title = client.get_item("payments-db", "payments")
    assert by_id.id == by_title.id == created.id
    assert {f.label: f.value for f in by_id.fields}["host"] == "db.internal"
    assert by_id.created_at is not None and by_id.vault.id == vault.id

    client.create_item(vault.id, _login_item(vault.id, "other"))
    listed = client.get_items(vault.id, 'title eq "payments-db"')
    assert [i.title for i in listed] == ["payments-db"]
    assert len(client.get_items(vault.id)) == 2

    by_id.fields[1].value = "rotated-" + SECRET
    updated = client.update_item(created.id, vault.id, by_id)
    assert updated.version == 2
    assert next(f for f in updated.fields if f.purpose == "PASSWORD").value == "rotated-" + SECRET

    values = load_dict(
        client,
        {
            "password": {"opitem": "payments-db", "opfield": ".password", "opvault": vault.id},
            "host": {"opitem": "payments-db", "opfield": "Connection.host", "opvault": vault.id},
        },
    )
    assert values == {"password": "rotated-" + SECRET, "host": "db.internal"}

    attached = vaults.attach_file(
        Actor.operator(), vault.id, created.id, name="client.pem", content=b"-----PEM-----\n"
    )
    files = client.get_files(created.id, vault.id)
    assert [(f.id, f.name, f.size) for f in files] == [(attached.id, "client.pem", 14)]
    assert client.get_file(attached.id, created.id, vault.id).content_path.endswith("/content")
    assert client.get_file_content(attached.id, created.id, vault.id) == b"-----PEM-----\n"
    client.download_file(attached.id, created.id, vault.id, str(tmp_path))
    assert (tmp_path / "client.pem").read_bytes() == b"-----PEM-----\n"

    client.delete_item(created.id, vault.id)
    with pytest.raises(FailedToRetrieveItemException) as missing:
        client.get_item_by_id(created.id, vault.id)
    assert missing.value.status_code == 404
    assert [i.title for i in client.get_items(vault.id)] == ["other"]


def test_async_client_round_trip_with_generated_password(
    live_server, vaults: VaultService, service_token: Callable[..., str]
) -> None:
    vault = vaults.create_vault(Actor.operator(), "ci")
    client = new_client(live_server.url, service_token("gh-actions", "ci:write"), is_async=True)
    assert isinstance(client, op_client.AsyncClient)

    async def scenario() -> None:
        item = Item(
            vault=ItemVault(id=vault.id),
            title="deploy key",
            category="API_CREDENTIAL",
            fields=[
                Field(
                    label="credential",
                    generate=True,
                    recipe=GeneratorRecipe(length=40, character_sets=["LETTERS", "DIGITS"]),
                )
            ],
        )
        created = await client.create_item(vault.id, item)
        generated = created.fields[0].value
        assert len(generated) == 40 and generated.isalnum()
        fetched = await client.get_item("deploy key", vault.id)
        assert fetched.fields[0].value == generated
        summaries = await client.get_items(vault.id, 'title eq "deploy key"')
        assert [s.id for s in summaries] == [created.id]
        fetched.title = "deploy key v2"
        updated = await client.update_item(created.id, vault.id, fetched)
        assert updated.title == "deploy key v2" and updated.version == 2
        await client.delete_item(created.id, vault.id)
        assert await client.get_items(vault.id) == []
        await client.session.aclose()

    asyncio.run(scenario())
