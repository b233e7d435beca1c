"""``/openapi.json`` declares how to authenticate; ``/docs`` works with no network but Limen."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from limen import access


def test_docs_page_references_only_limen_and_its_assets_are_served(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page.text, re.IGNORECASE)
    assert "validator.swagger.io" not in page.text
    referenced = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert "/openapi.json" in referenced
    assets = [r for r in referenced if r.startswith("/docs/static/")]
    assert len(assets) == 3, referenced
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 500
    kinds = {client.get(a).headers["content-type"].split(";")[0] for a in assets}
    assert kinds == {"text/javascript", "text/css", "image/png"}
    assert client.get("/docs/static/nothing.js").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 200
    assert client.get("/redoc").status_code == 404  # it would load from a CDN


def test_openapi_declares_the_security_schemes_and_each_routes_requirement(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    flow = schemes["oauth2ClientCredentials"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth2/token"
    assert "identities:read" in flow["scopes"]

    listed = schema["paths"]["/v1/identities"]["get"]
    assert listed["security"] == [
        {"bearerToken": []},
        {"oauth2ClientCredentials": sorted(access.ACTIONS["identity.read"].scopes)},
    ]
    item = schema["paths"]["/v1/vaults/{vault_id}/items/{item_id}"]["get"]["security"]
    assert item == [{"bearerToken": []}, {"oauth2ClientCredentials": ["vault:{vault_id}:read"]}]
    assert schema["paths"]["/health"]["get"]["security"] == []
    unsecured = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "security" not in operation
    ]
    assert unsecured == []
    assert not any(path.startswith("/docs") for path in schema["paths"])


def test_the_authorize_buttons_bearer_token_is_a_limen_token(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """What Swagger UI sends after Authorize with a token: ``Authorization: Bearer …``."""
    assert client.get("/v1/clients").status_code == 401
    assert client.get("/v1/clients", headers=admin_headers).status_code == 200
