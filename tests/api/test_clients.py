"""OAuth clients over HTTP (``/v1/clients``): what ``limen client …`` does, remotely."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def _grant(client: TestClient, client_id: str, secret: str) -> int:
    response = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "deploy"},
        auth=(client_id, secret),
    )
    return response.status_code


def _service(client: TestClient, headers: dict[str, str], name: str) -> None:
    made = client.post("/v1/identities", json={"kind": "service", "name": name}, headers=headers)
    assert made.status_code == 201, made.text


def test_register_list_show_rotate_and_revoke_a_client(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _service(client, admin_headers, "ci-deploy")
    made = client.post(
        "/v1/clients",
        json={"identity": "ci-deploy", "scopes": ["deploy"], "name": "ci"},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    body = made.json()
    client_id, secret = body["client_id"], body["client_secret"]
    assert secret.startswith("limen_cs_")
    assert body["identity"] == "ci-deploy" and body["scopes"] == ["deploy"]
    assert _grant(client, client_id, secret) == 200

    listed = client.get("/v1/clients?identity=ci-deploy", headers=admin_headers)
    assert listed.status_code == 200, listed.text
    assert [c["client_id"] for c in listed.json()["items"]] == [client_id]
    shown = client.get(f"/v1/clients/{client_id}", headers=admin_headers)
    assert shown.status_code == 200
    assert secret not in listed.text + shown.text
    assert "client_secret" not in shown.json()

    rotated = client.post(f"/v1/clients/{client_id}/rotate", headers=admin_headers)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["client_secret"]
    assert new_secret != secret
    assert _grant(client, client_id, secret) == 401
    assert _grant(client, client_id, new_secret) == 200

    revoked = client.delete(f"/v1/clients/{client_id}", headers=admin_headers)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert _grant(client, client_id, new_secret) == 401
    again = client.post(f"/v1/clients/{client_id}/rotate", headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["code"] == "client-revoked"


def test_bad_requests_are_problem_details(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    def problem(response: Any, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        return response.json()

    problem(client.post("/v1/clients", json={"identity": "nobody"}, headers=admin_headers), 404)
    problem(client.get("/v1/clients/nope", headers=admin_headers), 404)
    _service(client, admin_headers, "keyed")
    wrong = client.post(
        "/v1/clients",
        json={"identity": "keyed", "auth_method": "private_key_jwt"},
        headers=admin_headers,
    )
    assert "jwks" in problem(wrong, 422)["detail"]
    unknown_field = {"identity": "keyed", "secret": "mine"}
    problem(client.post("/v1/clients", json=unknown_field, headers=admin_headers), 422)
