"""The AuthZEN interop Todo scenario's decisions, with a validated policy.

The application's entity types and actions come from a schema fragment
(``conformance/todo.cedarschema``), its roles (``editor``, ``evil_genius``) are named by
its policy, and its users are Limen identities found by email.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

HERE = Path(__file__).parent / "conformance"
DECISIONS = json.loads((HERE / "authzen_todo.json").read_text())["decisions"]
ROLES = {
    "rick@the-citadel.com": ["evil_genius"],
    "morty@the-citadel.com": ["editor"],
    "summer@the-smiths.com": ["editor"],
    "beth@the-smiths.com": [],
    "jerry@the-smiths.com": [],
}


@pytest.fixture
def todo(client: TestClient, admin_headers: dict[str, str], make_identity: Any) -> None:
    fragment = {"text": (HERE / "todo.cedarschema").read_text(), "realm": "schema"}
    assert client.put("/v1/policies/todo-app", json=fragment, headers=admin_headers).is_success
    policy = {"text": (HERE / "todo.cedar").read_text()}  # validated: no flag to turn it off
    r = client.put("/v1/policies/todo", json=policy, headers=admin_headers)
    assert r.status_code == 200, r.text
    for email, roles in ROLES.items():
        make_identity(email.split("@")[0], email=email, roles=roles)


def test_every_todo_decision(client: TestClient, admin_headers: dict[str, str], todo: None) -> None:
    wrong = []
    for case in DECISIONS:
        r = client.post("/access/v1/evaluation", json=case["request"], headers=admin_headers)
        assert r.status_code == 200, r.text
        if r.json()["decision"] is not case["expected"]:
            wrong.append((case["request"], r.json()))
    assert not wrong
    # The same questions as one batch.
    batch = {"evaluations": [case["request"] for case in DECISIONS]}
    r = client.post("/access/v1/evaluations", json=batch, headers=admin_headers)
    assert [e["decision"] for e in r.json()["evaluations"]] == [c["expected"] for c in DECISIONS]


def test_application_roles_need_a_policy_that_names_them(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    body = {"kind": "human", "name": "morty", "roles": ["editor"]}
    r = client.post("/v1/identities", json=body, headers=admin_headers)
    assert r.status_code == 422 and "unknown role" in r.json()["detail"]


def test_custom_attributes_and_email_reach_cedar(
    client: TestClient, admin_headers: dict[str, str], make_identity: Any
) -> None:
    fragment = {
        "text": "type Attributes = { department?: String };\nentity report;",
        "realm": "schema",
    }
    assert client.put("/v1/policies/reports", json=fragment, headers=admin_headers).is_success
    policy = (
        'permit (principal, action == Limen::Action::"read", resource is Limen::report)\n'
        "when { principal has attributes && principal.attributes has department &&\n"
        '       principal.attributes.department == "finance" &&\n'
        '       principal has email && principal.email like "*@acme.test" };\n'
    )
    r = client.put("/v1/policies/finance", json={"text": policy}, headers=admin_headers)
    assert r.status_code == 200, r.text
    make_identity("fiona", email="fiona@acme.test", attributes={"department": "finance"})
    make_identity("sam", email="sam@acme.test", attributes={"department": "sales"})
    answers = {}
    for who in ("fiona", "sam"):
        body = {
            "subject": {"type": "user", "id": who},
            "action": {"name": "read"},
            "resource": {"type": "report", "id": "q3"},
        }
        r = client.post("/access/v1/evaluation", json=body, headers=admin_headers)
        answers[who] = r.json()["decision"]
    assert answers == {"fiona": True, "sam": False}


def test_the_cli_adds_a_fragment_and_tests_with_properties(
    limen: Any, make_identity: Any, tmp_path: Path
) -> None:
    cli = limen  # on the server host, then remotely (LIMEN_URL/LIMEN_TOKEN)
    (tmp_path / "app.cedarschema").write_text((HERE / "certification.cedarschema").read_text())
    (tmp_path / "app.cedar").write_text((HERE / "certification.cedar").read_text())
    refused = cli("policy", "add", "records", str(tmp_path / "app.cedar"))
    assert refused.exit_code != 0 and "Limen::record" in refused.stderr
    assert "Traceback" not in refused.stderr
    added = cli("policy", "schema", "add", "records", str(tmp_path / "app.cedarschema"))
    assert added.exit_code == 0, added.stderr
    assert "entity record" in cli("policy", "schema", "show").stdout
    assert cli("policy", "add", "certification", str(tmp_path / "app.cedar")).exit_code == 0
    make_identity("alice")
    soft = cli(
        "policy", "test", "--subject", "alice", "--action", "delete",
        "--resource", "record:record-1", "--action-properties", '{"soft": true}',
    )  # fmt: skip
    assert soft.exit_code == 0 and soft.stdout.startswith("permit")
    hard = cli(
        "policy", "test", "--subject", "alice", "--action", "delete",
        "--resource", "record:record-1", "--action-properties", '{"soft": false}',
    )  # fmt: skip
    assert hard.exit_code == 1 and hard.stdout.startswith("deny")
    listed = cli("policy", "list", "--realm", "schema", "--json")
    assert [p["name"] for p in json.loads(listed.stdout)["items"]] == ["records"]
