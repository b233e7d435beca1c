"""Vaults renamed and deleted, items restored from the trash, over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

ITEM = {
    "title": "stripe",
    "category": "API_CREDENTIAL",
    "fields": [{"label": "credential", "type": "CONCEALED", "value": "sk_live_restore_me"}],
}


def _vault(client: TestClient, headers: dict[str, str], name: str) -> dict[str, Any]:
    made = client.post("/v1/vaults", json={"name": name}, headers=headers)
    assert made.status_code == 201, made.text
    return made.json()


def test_rename_a_vault_and_its_items_follow(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    vault = _vault(client, admin_headers, "payments")
    item = client.post(f"/v1/vaults/{vault['id']}/items", json=ITEM, headers=admin_headers)
    assert item.status_code == 200, item.text
    renamed = client.patch(
        "/v1/vaults/payments",
        json={"name": "billing", "description": "cards", "maxSecretAgeDays": 90},
        headers=admin_headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "billing" and renamed.json()["id"] == vault["id"]
    read = client.get(f"/v1/vaults/billing/items/{item.json()['id']}", headers=admin_headers)
    assert read.status_code == 200
    assert read.json()["fields"][0]["value"] == "sk_live_restore_me"
    assert client.get("/v1/vaults/payments", headers=admin_headers).status_code == 404

    _vault(client, admin_headers, "other")
    taken = client.patch("/v1/vaults/other", json={"name": "billing"}, headers=admin_headers)
    assert taken.status_code == 409, taken.text
    assert client.patch("/v1/vaults/other", json={}, headers=admin_headers).status_code == 400
    slash = client.patch("/v1/vaults/other", json={"name": "a/b"}, headers=admin_headers)
    assert slash.status_code == 422


def test_restore_from_the_trash_then_delete_the_emptied_vault(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    vault = _vault(client, admin_headers, "scratch")
    base = f"/v1/vaults/{vault['id']}/items"
    item = client.post(base, json=ITEM, headers=admin_headers).json()
    assert client.delete(f"{base}/{item['id']}", headers=admin_headers).status_code == 204
    assert client.get(f"{base}/{item['id']}", headers=admin_headers).status_code == 404
    trash = client.get(f"{base}?trashed=true", headers=admin_headers).json()
    assert [i["id"] for i in trash] == [item["id"]]

    restored = client.post(f"{base}/stripe/restore", headers=admin_headers)
    assert restored.status_code == 200, restored.text
    again = client.get(f"{base}/{item['id']}", headers=admin_headers)
    assert again.json()["fields"][0]["value"] == "sk_live_restore_me"
    assert client.get(f"{base}?trashed=true", headers=admin_headers).json() == []
    missing = client.post(f"{base}/stripe/restore", headers=admin_headers)
    assert missing.status_code == 404  # not in the trash any more

    full = client.delete("/v1/vaults/scratch", headers=admin_headers)
    assert full.status_code == 409, full.text
    assert "delete them first" in full.json()["message"]
    client.delete(f"{base}/{item['id']}", headers=admin_headers)
    assert client.delete("/v1/vaults/scratch", headers=admin_headers).status_code == 204
    assert client.get("/v1/vaults/scratch", headers=admin_headers).status_code == 404
    events = client.get("/v1/events?action=vault.delete", headers=admin_headers).json()
    assert [e["resource"]["name"] for e in events["items"]] == ["scratch"]


def test_item_versions_and_the_rotation_report(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    made = client.post(
        "/v1/vaults", json={"name": "ops", "maxSecretAgeDays": 1}, headers=admin_headers
    )
    assert made.status_code == 201, made.text
    base = f"/v1/vaults/{made.json()['id']}/items"
    item = client.post(base, json=ITEM, headers=admin_headers).json()
    patched = client.patch(
        f"{base}/{item['id']}",
        json=[{"op": "replace", "path": "/title", "value": "stripe-2"}],
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.text
    versions = client.get(f"{base}/{item['id']}/versions", headers=admin_headers)
    assert versions.status_code == 200, versions.text
    assert [v["version"] for v in versions.json()] == [1, 2]
    assert "sk_live_restore_me" not in versions.text

    fresh = client.get("/v1/vault-report", headers=admin_headers)
    assert fresh.status_code == 200 and fresh.json() == []  # younger than a day
    every = client.get("/v1/vault-report?all=true", headers=admin_headers).json()
    assert [(e["vault"], e["item"], e["out_of_policy"]) for e in every] == [
        ("ops", "stripe-2", False)
    ]
    missing = client.get(f"{base}/nothing/versions", headers=admin_headers)
    assert missing.status_code == 404
