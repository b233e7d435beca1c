"""Registering partners over HTTP (``/v1/partners``), as ``limen partner …`` does."""

from __future__ import annotations

from fastapi.testclient import TestClient

TOKEN = "/v1beta1/users/oauth2/token"


def _token_status(client: TestClient, client_id: str, secret: str) -> int:
    response = client.post(
        TOKEN, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    return response.status_code


def test_register_list_show_rotate_and_disable_a_partner(
    client: TestClient, admin_headers: dict[str, str], installed: object
) -> None:
    made = client.post(
        "/v1/partners",
        json={"name": "elastic-soar", "scopes": ["users:read", "users:suspend"]},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    body = made.json()
    assert body["account_id"] == installed.account_id  # type: ignore[attr-defined]
    assert body["token_endpoint"] == TOKEN
    client_id, secret = body["client_id"], body["client_secret"]
    assert _token_status(client, client_id, secret) == 200

    listed = client.get("/v1/partners", headers=admin_headers)
    assert listed.status_code == 200, listed.text
    assert [p["name"] for p in listed.json()] == ["elastic-soar"]
    shown = client.get("/v1/partners/elastic-soar", headers=admin_headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["clients"][0]["client_id"] == client_id
    assert secret not in listed.text + shown.text

    rotated = client.post("/v1/partners/elastic-soar/rotate", headers=admin_headers)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["client_id"] == client_id
    new_secret = rotated.json()["client_secret"]
    assert _token_status(client, client_id, secret) == 401
    assert _token_status(client, client_id, new_secret) == 200

    disabled = client.delete("/v1/partners/elastic-soar", headers=admin_headers)
    assert disabled.status_code == 200, disabled.text
    assert [c["revoked"] for c in disabled.json()["clients"]] == [True]
    assert _token_status(client, client_id, new_secret) == 401
    again = client.post("/v1/partners/elastic-soar/rotate", headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["code"] == "partner-disabled"


def test_bad_requests_are_problem_details(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    wide = client.post(
        "/v1/partners", json={"name": "greedy", "scopes": ["vault:*:read"]}, headers=admin_headers
    )
    assert wide.status_code == 422, wide.text
    assert wide.headers["content-type"].startswith("application/problem+json")
    # an identity that is not a partner is not one here either
    assert client.get("/v1/partners/admin@example.com", headers=admin_headers).status_code == 404
    assert client.delete("/v1/partners/nobody", headers=admin_headers).status_code == 404
