"""The AuthZEN 1.0 PDP over HTTP, with requests shaped as the spec's own examples."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from limen.store.models import Event
from tests.oauth_factories import grant

READ_ACCOUNTS = """// Alice may read accounts.
permit (
  principal,
  action == Limen::Action::"can_read",
  resource
)
when { principal.name == "alice" && resource is Limen::Resource && resource.type == "account" };
"""
AGENTS_CALL_TOOLS = """permit (principal, action == Limen::Action::"call", resource is Limen::Tool)
when { principal.kind == "agent" };
"""
HUMANS_CALL_DEPLOY = """permit (
  principal, action == Limen::Action::"call", resource == Limen::Tool::"deploy"
)
when { principal.kind == "human" };
"""


def _put(client: TestClient, headers: dict[str, str], name: str, text: str) -> None:
    r = client.put(f"/v1/policies/{name}", json={"text": text}, headers=headers)
    assert r.status_code == 200, r.text


@pytest.fixture
def world(client: TestClient, admin_headers: dict[str, str], make_identity: Any) -> None:
    make_identity("alice", email="alice@acmecorp.com")
    make_identity("bob")
    make_identity("carol", roles=["admin"])
    make_identity("alice-bot", kind="agent", owner="alice")
    _put(client, admin_headers, "accounts", READ_ACCOUNTS)


def _evaluate(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    r = client.post("/access/v1/evaluation", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_spec_example_evaluation(
    client: TestClient, admin_headers: dict[str, str], world: None
) -> None:
    # AuthZEN 1.0 §6.1's example request, verbatim.
    body = {
        "subject": {"type": "user", "id": "alice@acmecorp.com"},
        "resource": {"type": "account", "id": "123"},
        "action": {"name": "can_read", "properties": {"method": "GET"}},
        "context": {"time": "1985-10-26T01:22-07:00"},
    }
    r = client.post(
        "/access/v1/evaluation", json=body, headers={**admin_headers, "X-Request-ID": "req-1"}
    )
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "req-1"
    assert r.json() == {
        "decision": True,
        "context": {"reason": "permitted", "policies": ["accounts#1"]},
    }
    bob = {**body, "subject": {"type": "user", "id": "bob"}}
    assert _evaluate(client, admin_headers, bob) == {
        "decision": False,
        "context": {"reason": "no_policy_permits"},
    }
    nobody = {**body, "subject": {"type": "user", "id": "mallory"}}
    assert _evaluate(client, admin_headers, nobody)["context"]["reason"] == "subject_unknown"
    # Every decision is an event.
    with client.app.state.services.db.unit_of_work(readonly=True) as uow:
        outcomes = uow.session.scalars(
            sa.select(Event.outcome).where(Event.action == "access.evaluate").order_by(Event.seq)
        ).all()
    assert outcomes == ["success", "denied", "denied"]


def test_spec_example_evaluations_and_semantics(
    client: TestClient, admin_headers: dict[str, str], world: None
) -> None:
    # Shaped as AuthZEN 1.0 §7.1's example: top-level defaults, per-entry overrides.
    body: dict[str, Any] = {
        "subject": {"type": "user", "id": "alice@acmecorp.com"},
        "context": {"time": "2024-05-31T15:22-07:00"},
        "action": {"name": "can_read"},
        "evaluations": [
            {"resource": {"type": "account", "id": "boxcarring"}},
            {"resource": {"type": "document", "id": "subject-search.md"}},
            {"action": {"name": "can_edit"}, "resource": {"type": "account", "id": "r.md"}},
            {"resource": {"type": "account", "id": "other"}},
        ],
    }
    r = client.post("/access/v1/evaluations", json=body, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert [e["decision"] for e in r.json()["evaluations"]] == [True, False, False, True]

    body["options"] = {"evaluations_semantic": "deny_on_first_deny"}
    r = client.post("/access/v1/evaluations", json=body, headers=admin_headers)
    assert [e["decision"] for e in r.json()["evaluations"]] == [True, False]

    body["options"] = {"evaluations_semantic": "permit_on_first_permit"}
    r = client.post("/access/v1/evaluations", json=body, headers=admin_headers)
    assert [e["decision"] for e in r.json()["evaluations"]] == [True]

    body["options"] = {"evaluations_semantic": "whatever"}
    r = client.post("/access/v1/evaluations", json=body, headers=admin_headers)
    assert r.status_code == 400

    # No "evaluations": the request is a single evaluation and is answered as one
    # (§7.1.1; certification scenario §C.3.4.2).
    single = {k: v for k, v in body.items() if k not in ("evaluations", "options")}
    single["resource"] = {"type": "account", "id": "1"}
    r = client.post("/access/v1/evaluations", json=single, headers=admin_headers)
    assert r.json() == {
        "decision": True,
        "context": {"reason": "permitted", "policies": ["accounts#1"]},
    }


def test_suspension_is_denied_before_policy_and_lifted_at_once(
    client: TestClient, admin_headers: dict[str, str], world: None
) -> None:
    body = {
        "subject": {"type": "identity", "id": "carol"},
        "action": {"name": "rotate"},
        "resource": {"type": "vault", "id": "prod"},
    }
    assert _evaluate(client, admin_headers, body)["context"]["policies"] == ["limen.admins#1"]
    client.post("/v1/identities/carol/suspend", headers=admin_headers)
    assert _evaluate(client, admin_headers, body)["context"] == {"reason": "subject_not_active"}
    client.post("/v1/identities/carol/reactivate", headers=admin_headers)
    assert _evaluate(client, admin_headers, body)["decision"] is True


def test_an_agent_never_exceeds_its_owner(
    client: TestClient, admin_headers: dict[str, str], world: None
) -> None:
    _put(client, admin_headers, "agents", AGENTS_CALL_TOOLS)
    body = {
        "subject": {"type": "agent", "id": "alice-bot"},
        "action": {"name": "call"},
        "resource": {"type": "tool", "id": "deploy"},
    }
    # The bot's own policy permits, but alice may not call tools: denied.
    assert _evaluate(client, admin_headers, body)["context"]["reason"] == "owner_denied"
    _put(client, admin_headers, "humans", HUMANS_CALL_DEPLOY)
    assert _evaluate(client, admin_headers, body)["decision"] is True
    other_tool = {**body, "resource": {"type": "tool", "id": "shell"}}
    assert _evaluate(client, admin_headers, other_tool)["context"]["reason"] == "owner_denied"
    client.post("/v1/identities/alice/suspend", headers=admin_headers)
    assert _evaluate(client, admin_headers, body)["context"]["reason"] == "owner_not_active"


def test_delegated_and_revoked_tokens_in_the_request(
    client: TestClient,
    admin_headers: dict[str, str],
    world: None,
    make_client: Any,
) -> None:
    _put(client, admin_headers, "agents", AGENTS_CALL_TOOLS)
    _put(client, admin_headers, "humans", HUMANS_CALL_DEPLOY)
    alice = make_client("alice", ["tools:call"])
    bot = make_client("alice-bot", ["tools:call"])
    human_token = grant(client, alice).json()["access_token"]
    delegated = client.post(
        "/oauth2/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": human_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        },
        auth=(bot.client_id, bot.secret),
    ).json()["access_token"]
    body = {
        "subject": {"type": "agent", "id": "alice-bot"},
        "action": {"name": "call"},
        "resource": {"type": "tool", "id": "deploy"},
        "context": {"token": delegated},
    }
    assert _evaluate(client, admin_headers, body)["decision"] is True
    as_bob = {**body, "subject": {"type": "user", "id": "bob"}}
    assert _evaluate(client, admin_headers, as_bob)["context"]["reason"] == (
        "token_subject_mismatch"
    )
    r = client.post("/oauth2/revoke", data={"token": delegated}, auth=(bot.client_id, bot.secret))
    assert r.status_code == 200
    assert _evaluate(client, admin_headers, body)["context"]["reason"] == "token_invalid"

    # A PEP that only knows the token id can ask about it too.
    jti = client.post(
        "/oauth2/introspect", data={"token": human_token}, headers=admin_headers
    ).json()["jti"]
    by_id = {**body, "subject": {"type": "user", "id": "alice"}, "context": {"token_id": jti}}
    assert _evaluate(client, admin_headers, by_id)["decision"] is True
    client.post("/oauth2/revoke", data={"token": human_token}, auth=(alice.client_id, alice.secret))
    assert _evaluate(client, admin_headers, by_id)["context"]["reason"] == "token_revoked"


def test_authentication_scope_metadata_and_limits(
    client: TestClient,
    admin_headers: dict[str, str],
    world: None,
    make_client: Any,
    settings: Any,
) -> None:
    body = {
        "subject": {"type": "user", "id": "alice"},
        "action": {"name": "can_read"},
        "resource": {"type": "account", "id": "1"},
    }
    assert client.post("/access/v1/evaluation", json=body).status_code == 401
    pep = make_client("bob", ["tools:call"])
    weak = grant(client, pep).json()["access_token"]
    r = client.post("/access/v1/evaluation", json=body, headers={"Authorization": f"Bearer {weak}"})
    assert r.status_code == 403
    pep_ok = make_client("bob", ["access:evaluate"])
    strong = grant(client, pep_ok).json()["access_token"]
    r = client.post(
        "/access/v1/evaluation", json=body, headers={"Authorization": f"Bearer {strong}"}
    )
    assert r.status_code == 200

    meta = client.get("/.well-known/authzen-configuration").json()
    public = settings.resolved_public_url  # configuration, not the address the request used
    assert meta == {
        "policy_decision_point": public,
        "access_evaluation_endpoint": f"{public}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{public}/access/v1/evaluations",
        "search_subject_endpoint": f"{public}/access/v1/search/subject",
        "search_resource_endpoint": f"{public}/access/v1/search/resource",
        "search_action_endpoint": f"{public}/access/v1/search/action",
    }

    malformed = client.post(
        "/access/v1/evaluation", json={**body, "subject": {"type": "user"}}, headers=admin_headers
    )
    assert malformed.status_code == 400
    assert "subject.id" in malformed.json()["detail"]
    too_many = {**body, "evaluations": [{}] * 1001}
    r = client.post("/access/v1/evaluations", json=too_many, headers=admin_headers)
    assert r.status_code == 400
    huge = {**body, "context": {"blob": "x" * 2_000_000}}
    r = client.post("/access/v1/evaluation", json=huge, headers=admin_headers)
    assert r.status_code == 413
    # Chunked, so with no length to refuse it by: counted as it arrives.
    streamed = json.dumps(huge).encode()
    chunks = [streamed[i : i + 500_000] for i in range(0, len(streamed), 500_000)]
    as_json = {**admin_headers, "Content-Type": "application/json"}
    r = client.post("/access/v1/evaluation", content=iter(chunks), headers=as_json)
    assert r.status_code == 413 and r.json()["code"] == "content-too-large"
    small = json.dumps(body).encode()
    r = client.post("/access/v1/evaluation", content=iter([small[:9], small[9:]]), headers=as_json)
    assert r.status_code == 200 and "decision" in r.json()
