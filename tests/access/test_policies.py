"""Cedar policies: validation with line numbers, storage through the API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from limen.access import PolicyError, validate_policy

MALFORMED = """// two statements; the second is broken on line 6
permit (principal, action == Limen::Action::"read", resource is Limen::Vault);

forbid (principal, action, resource)
when {
  principal.risk >
};
"""
UNKNOWN_ACTION = """permit (principal, action == Limen::Action::"read", resource);
permit (principal, action == Limen::Action::"fly", resource);
"""


def test_malformed_policy_names_the_line_over_http(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    r = client.put("/v1/policies/broken", json={"text": MALFORMED}, headers=admin_headers)
    assert r.status_code == 422
    assert r.json()["code"] == "policy-invalid"
    assert r.json()["detail"].startswith("line 7: unexpected token")
    r = client.post("/v1/policies/validate", json={"text": UNKNOWN_ACTION}, headers=admin_headers)
    assert r.status_code == 422
    assert r.json()["detail"] == 'line 2: unrecognized action `Limen::Action::"fly"`'
    assert client.get("/v1/policies/broken", headers=admin_headers).status_code == 404


def test_policy_lifecycle_over_http(client: TestClient, admin_headers: dict[str, str]) -> None:
    text = 'permit (principal, action == Limen::Action::"read", resource is Limen::Vault);\n'
    r = client.put(
        "/v1/policies/vault-readers",
        json={"text": text, "description": "anyone reads vaults"},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    names = [p["name"] for p in client.get("/v1/policies", headers=admin_headers).json()["items"]]
    assert names == ["limen.status", "limen.admins", "limen-admin", "vault-readers"]
    ok = client.post("/v1/policies/validate", json={"text": text}, headers=admin_headers)
    assert ok.json() == {"valid": True, "statements": 1}
    assert client.delete("/v1/policies/vault-readers", headers=admin_headers).status_code == 204
    assert client.delete("/v1/policies/vault-readers", headers=admin_headers).status_code == 404
    builtin = client.put("/v1/policies/limen.status", json={"text": text}, headers=admin_headers)
    assert builtin.status_code == 422


def test_policy_cli(limen: Any, tmp_path: Path, make_identity: Any) -> None:
    cli = limen  # on the server host, then remotely (LIMEN_URL/LIMEN_TOKEN)
    make_identity("alice")
    make_identity("alice-bot", kind="agent", owner="alice")
    bad = tmp_path / "bad.cedar"
    bad.write_text(MALFORMED)
    result = cli("policy", "validate", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith("limen: line 7: unexpected token")
    result = cli("policy", "add", "broken", str(bad))
    assert result.exit_code == 2 and "line 7" in result.stderr

    good = tmp_path / "tools.cedar"
    good.write_text(
        'permit (principal, action == Limen::Action::"call", resource is Limen::Tool);\n'
    )
    assert cli("policy", "validate", str(good), "--json").exit_code == 0
    added = cli("policy", "add", "tools", str(good), "--json")
    assert added.exit_code == 0, added.stderr
    assert cli("policy", "add", "tools", str(good)).exit_code == 4  # exists: use --replace
    assert cli("policy", "add", "tools", str(good), "--replace").exit_code == 0
    listed = json.loads(cli("policy", "list", "--json").stdout)
    assert [p["name"] for p in listed["items"]] == [
        "limen.status",
        "limen.admins",
        "limen-admin",
        "tools",
    ]

    permit = cli(
        "policy",
        "test",
        "--subject",
        "alice-bot",
        "--action",
        "call",
        "--resource",
        "tool:deploy",
        "--json",
    )
    assert permit.exit_code == 0, permit.stderr
    assert json.loads(permit.stdout) == {
        "decision": True,
        "context": {"reason": "permitted", "policies": ["tools#1"]},
    }
    deny = cli(
        "policy", "test", "--subject", "alice-bot", "--action", "read", "--resource", "vault:prod"
    )
    assert deny.exit_code == 1 and deny.stdout.startswith("deny: no_policy_permits")
    assert cli("policy", "remove", "tools").exit_code == 0


def test_a_parse_error_names_its_line_after_comments() -> None:
    text = (
        "// Agents may call tools.\n"  # 1
        "permit (principal, action, resource);\n"  # 2
        "\n"  # 3
        "// A second statement, with } in a comment\n"  # 4
        "// and one more comment line.\n"  # 5
        "forbid (principal, action, resource)\n"  # 6
        'when { context.ip == "}" && };\n'  # 7
    )
    with pytest.raises(PolicyError) as raised:
        validate_policy(text)
    assert raised.value.detail == "line 7: unexpected token `}`"


def test_a_missing_semicolon_names_the_line_where_it_is_missing() -> None:
    text = (
        "permit (principal, action, resource)\n"  # 1
        "// risk is 0-100\n"  # 2
        "when { principal.risk < 50 }\n"  # 3
        "\n"  # 4
    )
    with pytest.raises(PolicyError) as raised:
        validate_policy(text)
    assert raised.value.detail == (
        "line 3: missing ';' at the end (the statement starting on line 1)"
    )
