"""What the PDP remembers never outlives what it was decided from, and a batch answers
exactly what the same questions asked one at a time would."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from limen.store import Database
from limen.store.models import Identity

RISKY_AGENTS = """permit (principal, action == Limen::Action::"call", resource is Limen::Tool)
when { principal.kind == "agent" && principal.risk < 50 };
permit (principal, action == Limen::Action::"call", resource is Limen::Tool)
when { principal.kind == "human" && principal.risk < 50 };
"""
VAULTS = """permit (principal, action == Limen::Action::"read", resource in Limen::Vault::"prod")
when { principal.kind == "human" };
permit (principal, action == Limen::Action::"read", resource is Limen::Identity)
when { resource.kind == "agent" && resource has owner && resource.owner == principal };
forbid (principal, action, resource)
when { context has ip && context.ip == "203.0.113.9" };
"""


def _put(client: TestClient, headers: dict[str, str], name: str, text: str) -> None:
    r = client.put(f"/v1/policies/{name}", json={"text": text}, headers=headers)
    assert r.status_code == 200, r.text


def _one(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    r = client.post("/access/v1/evaluation", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _set_risk(db: Database, identity_id: str, risk: int) -> None:
    # Any change to an identity's row is announced by the status view's hook.
    with db.unit_of_work() as uow:
        row = uow.session.get(Identity, identity_id)
        assert row is not None
        row.attributes = {**(row.attributes or {}), "risk": risk}


def test_an_attribute_change_reaches_the_very_next_decision(
    client: TestClient, admin_headers: dict[str, str], make_identity: Any, db: Database
) -> None:
    alice = make_identity("alice")
    bot = make_identity("alice-bot", kind="agent", owner="alice")
    make_identity("bob")
    _put(client, admin_headers, "risky", RISKY_AGENTS)
    body = {
        "subject": {"type": "agent", "id": "alice-bot"},
        "action": {"name": "call"},
        "resource": {"type": "tool", "id": "deploy"},
    }
    for _ in range(2):  # the second answer may come from memory
        assert _one(client, admin_headers, body)["decision"] is True

    _set_risk(db, bot, 90)
    assert _one(client, admin_headers, body)["context"]["reason"] == "no_policy_permits"
    _set_risk(db, bot, 10)
    assert _one(client, admin_headers, body)["decision"] is True
    # The owner's row is part of the agent's decision too.
    _set_risk(db, alice, 90)
    assert _one(client, admin_headers, body)["context"]["reason"] == "owner_denied"
    _set_risk(db, alice, 0)
    assert _one(client, admin_headers, body)["decision"] is True

    # Policies: a removal is honoured by the next decision.
    assert client.delete("/v1/policies/risky", headers=admin_headers).status_code in (200, 204)
    assert _one(client, admin_headers, body)["context"]["reason"] == "no_policy_permits"


def test_a_batch_answers_as_single_evaluations_do(
    client: TestClient, admin_headers: dict[str, str], make_identity: Any
) -> None:
    make_identity("alice")
    make_identity("bob", kind="agent", owner="alice")
    make_identity("carol", roles=["admin"])
    make_identity("dave")
    make_identity("eve-bot", kind="agent", owner="dave")
    _put(client, admin_headers, "vaults", VAULTS)
    client.post("/v1/identities/dave/suspend", headers=admin_headers)

    def item(item_id: str, vault: str) -> dict[str, Any]:
        return {"type": "item", "id": item_id, "properties": {"vault": vault}}

    questions: list[dict[str, Any]] = []
    for subject in ("alice", "bob", "carol", "eve-bot", "mallory"):
        for resource in (
            item("db-password", "prod"),
            item("db-password", "dev"),
            item("api-key", "prod"),
            {"type": "identity", "id": "bob"},
            {"type": "identity", "id": "eve-bot"},
            {"type": "identity", "id": "nobody-known"},
            {"type": "tool", "id": "deploy"},
        ):
            for context in ({}, {"ip": "203.0.113.9"}, {"ip": "10.0.0.1", "n": 1.5}):
                questions.append(
                    {
                        "subject": {"type": "identity", "id": subject},
                        "action": {"name": "read"},
                        "resource": resource,
                        "context": context,
                    }
                )
    r = client.post(
        "/access/v1/evaluations", json={"evaluations": questions}, headers=admin_headers
    )
    assert r.status_code == 200, r.text
    batch = r.json()["evaluations"]
    _put(client, admin_headers, "vaults", VAULTS)  # same text: nothing remembered survives
    singles = [_one(client, admin_headers, q) for q in questions]
    assert {s["decision"] for s in singles} == {True, False}
    reasons = {s["context"]["reason"] for s in singles}
    assert {"permitted", "forbidden", "no_policy_permits", "owner_not_active"} <= reasons
    assert "subject_unknown" in reasons
    assert batch == singles

    # The semantics stop at the first answer of the kind they name, whichever step gave it.
    first_deny = next(i for i, s in enumerate(singles) if not s["decision"])
    r = client.post(
        "/access/v1/evaluations",
        json={"evaluations": questions, "options": {"evaluations_semantic": "deny_on_first_deny"}},
        headers=admin_headers,
    )
    assert r.json()["evaluations"] == singles[: first_deny + 1]
    later = questions[first_deny:]
    first_permit = next(i for i, s in enumerate(singles[first_deny:]) if s["decision"])
    r = client.post(
        "/access/v1/evaluations",
        json={"evaluations": later, "options": {"evaluations_semantic": "permit_on_first_permit"}},
        headers=admin_headers,
    )
    assert r.json()["evaluations"] == singles[first_deny:][: first_permit + 1]


def test_cedar_gets_the_resource_entity_whenever_a_statement_reads_it(
    client: TestClient, admin_headers: dict[str, str], make_identity: Any
) -> None:
    # Statements that only compare the resource's type and id leave its entity out of the
    # Cedar call; these would decide wrongly if the entity were left out when one reads it.
    make_identity("alice")
    _put(
        client,
        admin_headers,
        "prod",
        'permit (principal, action == Limen::Action::"read", resource in Limen::Vault::"prod")\n'
        'when { principal.kind == "human" };\n',
    )

    def read(resource: dict[str, Any]) -> Any:
        body = {"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}}
        return _one(client, admin_headers, {**body, "resource": resource})["context"]

    prod = {"type": "item", "id": "db-password", "properties": {"vault": "prod"}}
    assert read(prod) == {"reason": "permitted", "policies": ["prod#1"]}
    assert read({**prod, "properties": {"vault": "dev"}})["reason"] == "no_policy_permits"

    database = {"type": "database", "id": "orders"}
    _put(client, admin_headers, "data", "permit (principal, action, resource is Limen::Resource);")
    assert read(database)["reason"] == "permitted"
    _put(
        client,
        admin_headers,
        "no-databases",
        "forbid (principal, action, resource is Limen::Resource)\n"
        'when { resource.type == "database" };\n',
    )
    assert read(database) == {"reason": "forbidden", "policies": ["no-databases#1"]}
    assert read({"type": "queue", "id": "orders"})["reason"] == "permitted"


def test_type_and_id_alone_decide_and_cedar_reads_the_context_only_when_a_statement_does(
    client: TestClient, admin_headers: dict[str, str], make_identity: Any
) -> None:
    make_identity("alice")
    make_identity("alice-bot", kind="agent", owner="alice")
    _put(
        client,
        admin_headers,
        "deploy",
        'permit (principal, action == Limen::Action::"call", resource == Limen::Tool::"deploy");\n'
        "permit (principal, action, resource) when { !(resource is Limen::Tool) };\n",
    )

    def call(tool: str, context: dict[str, Any] | None = None) -> Any:
        body = {
            "subject": {"type": "agent", "id": "alice-bot"},
            "action": {"name": "call"},
            "resource": {"type": "tool", "id": tool},
            "context": context or {},
        }
        return _one(client, admin_headers, body)

    assert call("deploy")["context"] == {"reason": "permitted", "policies": ["deploy#1"]}
    assert call("shell")["context"] == {"reason": "no_policy_permits"}
    # Cedar's integers are 64-bit: it cannot read this context. While no statement names
    # the context, Cedar is not given it; once one does, Cedar cannot evaluate, so: no.
    huge = {"risk": 10**30}
    assert call("deploy", huge)["decision"] is True
    _put(
        client,
        admin_headers,
        "risk",
        "forbid (principal, action, resource)\nwhen { context has risk && context.risk > 50 };\n",
    )
    assert call("deploy", {"risk": 90})["context"] == {
        "reason": "forbidden",
        "policies": ["risk#1"],
    }
    assert call("deploy", huge) == {"decision": False, "context": {"reason": "evaluation_error"}}
