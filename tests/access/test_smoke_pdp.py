from __future__ import annotations

from fastapi.testclient import TestClient


def test_pdp_smoke(client: TestClient, admin_headers, make_identity) -> None:
    make_identity("alice")
    make_identity("bot", kind="agent", owner="alice")
    r = client.put(
        "/v1/policies/tools",
        json={
            "text": 'permit(principal, action == Limen::Action::"call", resource is Limen::Tool);'
        },
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/access/v1/evaluation",
        json={
            "subject": {"type": "agent", "id": "bot"},
            "action": {"name": "call"},
            "resource": {"type": "tool", "id": "deploy"},
        },
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    print(r.json())
