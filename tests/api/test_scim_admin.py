"""Connecting an identity provider over HTTP (``/v1/scim``), as ``limen scim …`` does."""

from __future__ import annotations

from fastapi.testclient import TestClient

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_a_token_for_the_provider_then_a_group_that_grants_a_role(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    made = client.post("/v1/scim/tokens", json={"name": "okta"}, headers=admin_headers)
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    body = made.json()
    assert body["scopes"] == ["scim:write"] and body["base_url"].endswith("/scim/v2")
    idp = {"Authorization": f"Bearer {body['token']}"}

    user = client.post(
        "/scim/v2/Users", json={"schemas": [USER], "userName": "ines@example.com"}, headers=idp
    ).json()
    group = client.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP], "displayName": "SecOps", "members": [{"value": user["id"]}]},
        headers=idp,
    )
    assert group.status_code == 201, group.text

    granted = client.put(
        "/v1/scim/group-roles/SecOps", json={"roles": ["security-operator"]}, headers=admin_headers
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["roles"] == ["security-operator"]
    assert granted.json()["members"] == ["ines@example.com"]
    ines = client.get(f"/v1/identities/{user['id']}", headers=admin_headers).json()
    assert ines["roles"] == ["security-operator"]

    bad = client.put("/v1/scim/group-roles/SecOps", json={"roles": "admin"}, headers=admin_headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
