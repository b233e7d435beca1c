from __future__ import annotations

from fastapi.testclient import TestClient

from tests.tokens.conftest import grant


def test_client_credentials_then_use_the_token(
    client: TestClient, make_identity, make_client
) -> None:
    make_identity("svc", kind="service")
    c = make_client("svc", ["identities:read"])
    r = grant(client, c)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer"
    at = body["access_token"]
    me = client.get("/v1/identities", headers={"Authorization": f"Bearer {at}"})
    assert me.status_code == 200, me.text
    denied = client.post(
        "/v1/identities",
        json={"kind": "human", "name": "x"},
        headers={"Authorization": f"Bearer {at}"},
    )
    assert denied.status_code == 403
