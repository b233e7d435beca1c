"""Service accounts over HTTP (``/v1/service-accounts``), as ``limen service-account …``."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_issue_list_show_and_revoke_a_service_account(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    vault = client.post("/v1/vaults", json={"name": "ci-secrets"}, headers=admin_headers)
    assert vault.status_code in (200, 201), vault.text
    made = client.post(
        "/v1/service-accounts",
        json={"name": "ci-runner", "vaults": ["ci-secrets:read"], "expires_in": "30d"},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    body = made.json()
    token = body["token"]
    assert token.startswith("limen_")
    assert body["scopes"] == [f"vault:{vault.json()['id']}:read"]
    assert body["expires_at"] is not None
    own = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/vaults", headers=own).status_code == 200

    listed = client.get("/v1/service-accounts", headers=admin_headers)
    assert listed.status_code == 200, listed.text
    assert [t["token_id"] for t in listed.json()["items"]] == [body["token_id"]]
    shown = client.get("/v1/service-accounts/ci-runner", headers=admin_headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["id"] == body["id"]
    assert [t["revoked_at"] for t in shown.json()["tokens"]] == [None]
    assert token not in listed.text + shown.text

    revoked = client.delete("/v1/service-accounts/ci-runner", headers=admin_headers)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"revoked": [body["token_id"]]}
    assert client.get("/v1/vaults", headers=own).status_code == 401


def test_bad_requests_are_problem_details(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    no_vault = client.post(
        "/v1/service-accounts",
        json={"name": "x", "vaults": ["missing:read"]},
        headers=admin_headers,
    )
    assert no_vault.status_code == 404, no_vault.text
    assert no_vault.headers["content-type"].startswith("application/problem+json")
    bad_grant = client.post(
        "/v1/service-accounts", json={"name": "x", "vaults": ["ci:admin"]}, headers=admin_headers
    )
    assert bad_grant.status_code == 422, bad_grant.text
    none = client.post(
        "/v1/service-accounts", json={"name": "x", "vaults": []}, headers=admin_headers
    )
    assert none.status_code == 422
    # a human is not a service account
    assert (
        client.get("/v1/service-accounts/admin@example.com", headers=admin_headers).status_code
        == 404
    )
