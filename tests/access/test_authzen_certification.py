"""The AuthZEN 1.0 certification scenario, case by case, against the real app.

The cases are data (``conformance/authzen_certification.json``), written down from the
scenario in openid/authzen; the fixture (alice, bob, record-1, record-2) is set up here
as an operator would: a schema fragment declaring the application's entity type and
properties, and a policy validated against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

HERE = Path(__file__).parent / "conformance"
SCENARIO = json.loads((HERE / "authzen_certification.json").read_text())
LEVELS = (
    "basic-core",
    "basic-properties",
    "errors",
    "batch-core",
    "batch-properties",
    "search-core",
    "search-properties",
)
CASES = [case for case in SCENARIO["cases"] if case["level"] in LEVELS]


@pytest.fixture
def fixture(client: TestClient, admin_headers: dict[str, str], make_identity: Any) -> None:
    make_identity("alice")
    fragment = (HERE / "certification.cedarschema").read_text()
    body = {"text": fragment, "realm": "schema"}
    r = client.put("/v1/policies/records", json=body, headers=admin_headers)
    assert r.status_code == 200, r.text
    text = (HERE / "certification.cedar").read_text()
    r = client.put("/v1/policies/certification", json={"text": text}, headers=admin_headers)
    assert r.status_code == 200, r.text
    # bob's role is an attribute of the identity (§C.1.1); it needs the fragment first.
    make_identity("bob", attributes={"role": "admin"})
    # The records are resources a PEP has asked about (§C.1.2), so search finds them.
    for record in ("record-1", "record-2"):
        body = {
            "subject": {"type": "user", "id": "alice"},
            "action": {"name": "read"},
            "resource": {"type": "record", "id": record},
        }
        assert client.post("/access/v1/evaluation", json=body, headers=admin_headers).is_success


def _send(client: TestClient, headers: dict[str, str], case: dict[str, Any]) -> Any:
    url = f"/access/v1/{case['endpoint']}"
    if "raw" in case:
        sent = dict(headers)
        if case["content_type"]:
            sent["Content-Type"] = case["content_type"]
        return client.post(url, content=case["raw"].encode(), headers=sent)
    return client.post(url, json=case["request"], headers=headers)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_certification_case(
    client: TestClient, admin_headers: dict[str, str], fixture: None, case: dict[str, Any]
) -> None:
    headers = {**admin_headers, "X-Request-ID": f"cert-{case['id']}"}
    r = _send(client, headers, case)
    assert r.status_code == case["status"], r.text
    # §C.2.5.1 / §C.5: the request id comes back on every answer, errors included.
    assert r.headers["x-request-id"] == f"cert-{case['id']}"
    body = r.json()
    if case["status"] != 200:
        assert r.headers["content-type"] == "application/problem+json"
        assert body["status"] == case["status"] and body["detail"]
        return
    assert r.headers["content-type"] == "application/json"
    if "decision" in case:
        assert body["decision"] is case["decision"], body
        assert "evaluations" not in body
    if "evaluations" in case:
        answers = body["evaluations"]
        assert len(answers) == len(case["evaluations"])  # §C.3.3.1
        for expected, answer in zip(case["evaluations"], answers, strict=True):
            assert isinstance(answer["decision"], bool)
            assert isinstance(answer.get("context", {}), dict)
            if expected is not None:
                assert answer["decision"] is expected, answers
    if "results" in case:
        assert body["results"] == case["results"]
    if "results_include" in case:
        results = body["results"]
        assert isinstance(results, list)
        for expected in case["results_include"]:
            assert expected in results, results
        for result in results:  # §C.4.2.1: every result is of the type asked for
            if "type" in case["request"].get(case["endpoint"].split("/")[1], {}):
                assert result["type"] == case["request"][case["endpoint"].split("/")[1]]["type"]
        page = body.get("page", {})
        assert isinstance(page, dict) and isinstance(page.get("next_token", ""), str)


def test_idempotent(client: TestClient, admin_headers: dict[str, str], fixture: None) -> None:
    # §C.2.6: the same request, the same decision, every time.
    case = next(c for c in SCENARIO["cases"] if c["id"] == "C.2.2.1")
    answers = {_send(client, admin_headers, case).json()["decision"] for _ in range(5)}
    assert answers == {True}


def test_a_bad_batch_entry_says_why_and_is_not_recorded(
    client: TestClient, admin_headers: dict[str, str], fixture: None
) -> None:
    body = {
        "subject": {"type": "user", "id": "alice"},
        "action": {"name": "read"},
        "evaluations": [
            {"resource": {"type": "record", "id": "record-1"}},
            {"resource": {"type": "record"}},
            {"resource": {"type": "record", "id": "record-2"}},
        ],
    }
    r = client.post("/access/v1/evaluations", json=body, headers=admin_headers)
    assert r.status_code == 200
    second = r.json()["evaluations"][1]
    assert second["decision"] is False
    assert second["context"]["reason"] == "invalid_evaluation"
    assert "evaluations[1].resource.id" in second["context"]["error"]
    # deny_on_first_deny stops at the bad entry, as at any denial.
    body["options"] = {"evaluations_semantic": "deny_on_first_deny"}
    r = client.post("/access/v1/evaluations", json=body, headers=admin_headers)
    assert [e["decision"] for e in r.json()["evaluations"]] == [True, False]


def test_the_request_id_is_echoed_on_authentication_errors(client: TestClient) -> None:
    body = {
        "subject": {"type": "user", "id": "alice"},
        "action": {"name": "read"},
        "resource": {"type": "record", "id": "record-1"},
    }
    r = client.post("/access/v1/evaluation", json=body, headers={"X-Request-ID": "no-token"})
    assert r.status_code == 401
    assert r.headers["x-request-id"] == "no-token"


def test_the_policy_does_not_validate_without_the_fragment(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    text = (HERE / "certification.cedar").read_text()
    r = client.post("/v1/policies/validate", json={"text": text}, headers=admin_headers)
    assert r.status_code == 422
    assert "record" in r.json()["detail"]
    # A fragment that does not fit is refused with Cedar's reason.
    bad = {"text": "entity record = { status?: Nope };", "realm": "schema"}
    r = client.put("/v1/policies/records", json=bad, headers=admin_headers)
    assert r.status_code == 422 and "Nope" in r.json()["detail"]


def test_search_pages_through_every_result(
    client: TestClient, admin_headers: dict[str, str], fixture: None, make_identity: Any
) -> None:
    for n in range(5):
        make_identity(f"reader-{n}")
    policy = (
        'permit (principal, action == Limen::Action::"read", resource is Limen::record)\n'
        'when { principal.name like "reader-*" };\n'
    )
    r = client.put("/v1/policies/readers", json={"text": policy}, headers=admin_headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = {
        "subject": {"type": "user"},
        "action": {"name": "read"},
        "resource": {"type": "record", "id": "record-1"},
        "page": {"limit": 2},
    }
    seen: list[str] = []
    for _ in range(10):
        r = client.post("/access/v1/search/subject", json=body, headers=admin_headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["results"]) <= 2
        seen += [result["id"] for result in page["results"]]
        if not page["page"]["next_token"]:
            break
        body["page"] = {"limit": 2, "token": page["page"]["next_token"]}
    # The installation's first admin may do anything (limen.admins), so is found too.
    assert sorted(seen) == ["admin", "alice", "bob", *(f"reader-{n}" for n in range(5))]
    body["page"] = {"token": "not-ours!"}
    r = client.post("/access/v1/search/subject", json=body, headers=admin_headers)
    assert r.status_code == 400


def test_discovery(client: TestClient, settings: Any) -> None:
    # §C.6: the metadata names every endpoint, search included.
    r = client.get("/.well-known/authzen-configuration")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    meta = r.json()
    base = settings.resolved_public_url
    assert meta["policy_decision_point"] == base
    for name in ("subject", "resource", "action"):
        assert meta[f"search_{name}_endpoint"] == f"{base}/access/v1/search/{name}"
