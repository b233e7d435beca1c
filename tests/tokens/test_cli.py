"""``limen client …`` acts on the configured database through the same domain services."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.oauth_factories import Client, grant


def test_client_create_list_revoke(
    cli: Any, installed: Any, make_identity: Any, client: TestClient
) -> None:
    make_identity("deploy-bot", kind="service")
    created = cli(
        "client",
        "create",
        "--identity",
        "deploy-bot",
        "--scopes",
        "secrets:read,tools:call",
        "--json",
    )
    assert created.exit_code == 0, created.stderr
    doc = json.loads(created.stdout)
    assert doc["client_secret"].startswith("limen_cs_")
    assert doc["scopes"] == ["secrets:read", "tools:call"]
    assert doc["auth_method"] == "client_secret_basic"

    c = Client(doc["client_id"], doc["client_secret"], doc["identity_id"])
    assert grant(client, c).status_code == 200

    listed = cli("client", "list", "--identity", "deploy-bot", "--json")
    items = json.loads(listed.stdout)["items"]
    assert [i["client_id"] for i in items] == [c.client_id]
    assert doc["client_secret"] not in listed.stdout

    assert cli("client", "revoke", c.client_id).exit_code == 0
    assert json.loads(cli("client", "list", "--json").stdout)["items"][0]["revoked_at"]
    missing = cli("client", "revoke", "nosuchclient")
    assert missing.exit_code == 3 and missing.stderr.startswith("limen: no OAuth client")
    bad = cli("client", "create", "--identity", "deploy-bot", "--auth-method", "password")
    assert bad.exit_code == 2
    jwt_client = cli(
        "client", "create", "--identity", "deploy-bot", "--auth-method", "private_key_jwt"
    )
    assert jwt_client.exit_code == 2 and "jwks" in jwt_client.stderr
