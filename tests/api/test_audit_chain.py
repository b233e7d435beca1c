"""The audit chain over HTTP: ``limen audit verify`` and checkpoint export, remotely."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from limen.audit import create_checkpoint, link_pending
from tests.audit.conftest import tamper


def test_verify_against_exported_checkpoints_and_see_an_edit(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    services: Any = client.app.state.services  # type: ignore[attr-defined]
    db, keys = services.db, services.audit_keys
    for n in range(3):
        body = {"kind": "service", "name": f"job-{n}"}
        assert client.post("/v1/identities", json=body, headers=admin_headers).status_code == 201
    link_pending(db, keys.chain)
    create_checkpoint(db, keys)

    exported = client.get("/v1/audit/checkpoints", headers=admin_headers)
    assert exported.status_code == 200, exported.text
    kept = exported.json()
    assert len(kept) >= 1 and kept[-1]["format"] == "limen-audit-checkpoint-v1"

    good = client.post("/v1/audit/verify", json={"checkpoints": kept}, headers=admin_headers)
    assert good.status_code == 200, good.text
    assert good.json()["ok"] is True and good.json()["checked"] > 3

    tamper(db, ("UPDATE events SET outcome = 'denied' WHERE chain_pos = 2", {}))
    bad = client.post("/v1/audit/verify", json={"checkpoints": kept}, headers=admin_headers)
    assert bad.status_code == 200, bad.text
    assert bad.json()["ok"] is False and bad.json()["problem"]["kind"] == "edited"
    assert bad.json()["problem"]["position"] == 2

    recorded = client.get("/v1/events?action=audit.verify", headers=admin_headers).json()
    assert sorted(e["outcome"] for e in recorded["items"]) == ["failure", "success"]


def test_a_checkpoint_that_is_not_one_is_refused(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    forged = {"format": "limen-audit-checkpoint-v1", "id": "x", "position": "two"}
    response = client.post(
        "/v1/audit/verify", json={"checkpoints": [forged]}, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid-checkpoint"
