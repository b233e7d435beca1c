"""Problem details for bodies that are not JSON say where and what, never what was sent."""

from __future__ import annotations

from fastapi.testclient import TestClient

BROKEN = '{"kind": "agent",\n "name": "sk_live_secret_looking",\n "owner": }'
WHERE = "Expecting value at line 3, column 11"


def test_malformed_json_names_the_line_column_and_reason(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    headers = {**admin_headers, "Content-Type": "application/json"}
    response = client.post("/v1/identities", content=BROKEN, headers=headers)
    assert response.status_code == 400  # not JSON at all: a bad request, not invalid input
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"] == f"the request body is not valid JSON: {WHERE}"
    assert problem["errors"] == [{"field": "body", "message": problem["detail"]}]
    assert "sk_live" not in response.text


def test_the_pdp_says_the_same(client: TestClient, admin_headers: dict[str, str]) -> None:
    headers = {**admin_headers, "Content-Type": "application/json"}
    response = client.post("/access/v1/evaluation", content=BROKEN, headers=headers)
    assert response.status_code == 400  # AuthZEN 1.0 asks for 400
    assert response.json()["detail"] == f"the request body is not valid JSON: {WHERE}"
    assert "sk_live" not in response.text
