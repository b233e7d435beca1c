"""``POST /v1/events``: gateways and proxies report what identities did."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient


def reporter_headers(cli: Any, scopes: str = "events:write") -> dict[str, str]:
    """A service identity's token for reporting, made as docs/detect.md says."""
    made = cli("identity", "create", "--kind", "service", "--name", "gateway", "--json")
    assert made.exit_code == 0, made.stderr
    issued = cli("token", "create", "--identity", "gateway", "--scopes", scopes, "--json")
    assert issued.exit_code == 0, issued.stderr
    return {"Authorization": f"Bearer {json.loads(issued.stdout)['token']}"}


def event(**fields: Any) -> dict[str, Any]:
    return {
        "occurred_at": "2026-12-01T09:30:00Z",
        "actor": {"name": "etl-bot", "kind": "agent"},
        "action": "db.query",
        "resource": {"type": "db", "id": "analytics", "name": "analytics"},
        "outcome": "success",
        "context": {"ip": "10.0.0.7", "tool": "sql", "session": "s1", "bytes": 1200},
        **fields,
    }


def test_reported_events_join_the_log_and_unknown_actors_become_shadow_identities(
    client: TestClient, admin_headers: dict[str, str], cli: Any
) -> None:
    headers = reporter_headers(cli)
    sent = client.post(
        "/v1/events",
        json={"events": [event(), event(action="db.export", outcome="denied")]},
        headers=headers,
    )
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["accepted"] == 2 and len(body["ids"]) == 2
    assert body["shadow_identities"] == ["etl-bot"]

    answer = client.get("/v1/identities/etl-bot", headers=admin_headers)
    assert answer.status_code == 200, answer.text
    shadow = answer.json()
    assert shadow["kind"] == "agent"
    assert shadow["managed"] is False

    found = client.get(
        "/v1/events", params={"actor_id": shadow["id"]}, headers=admin_headers
    ).json()["items"]
    assert [e["action"] for e in found] == ["db.query", "db.export"]
    first = found[0]
    assert first["occurred_at"].startswith("2026-12-01T09:30:00")
    assert first["resource"] == {"type": "db", "id": "analytics", "name": "analytics"}
    assert first["context"]["tool"] == "sql"
    assert first["context"]["reported_by"]["name"] == "gateway"
    assert found[1]["outcome"] == "denied"

    # The same actor again: no second identity; an exported line is accepted as it is.
    exported = client.get(
        "/v1/events", params={"actor_id": shadow["id"], "format": "jsonl"}, headers=admin_headers
    ).text.splitlines()[0]
    again = client.post("/v1/events", json={"events": [json.loads(exported)]}, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["shadow_identities"] == []


def test_a_bad_item_is_named_and_nothing_of_the_batch_is_kept(
    client: TestClient, admin_headers: dict[str, str], cli: Any
) -> None:
    headers = reporter_headers(cli)
    before = len(
        client.get("/v1/events", params={"limit": 1000}, headers=admin_headers).json()["items"]
    )

    no_kind = client.post(
        "/v1/events",
        json={"events": [event(), event(actor={"name": "mystery"})]},
        headers=headers,
    )
    assert no_kind.status_code == 422
    problem = no_kind.json()
    assert no_kind.headers["content-type"] == "application/problem+json"
    assert problem["detail"].startswith("events[1].actor.kind")

    bad_outcome = client.post(
        "/v1/events", json={"events": [event(), event(), event(outcome="maybe")]}, headers=headers
    )
    assert bad_outcome.status_code == 422
    assert bad_outcome.json()["detail"].startswith("events.2.outcome")

    no_actor = client.post("/v1/events", json={"events": [event(actor={})]}, headers=headers)
    assert no_actor.status_code == 422
    assert no_actor.json()["detail"].startswith("events.0.actor")

    unknown_id = client.post(
        "/v1/events", json={"events": [event(actor={"id": "a" * 26})]}, headers=headers
    )
    assert unknown_id.status_code == 422
    assert "events[0].actor.id" in unknown_id.json()["detail"]

    wrong_kind = client.post(
        "/v1/events",
        json={"events": [event(actor={"name": "gateway", "kind": "human"})]},
        headers=headers,
    )
    assert wrong_kind.status_code == 422
    assert "is a service, not a human" in wrong_kind.json()["detail"]

    claimed = client.post(
        "/v1/events", json={"events": [event(action="identity.suspend")]}, headers=headers
    )
    assert claimed.status_code == 422
    assert "one of Limen's own actions" in claimed.json()["detail"]

    too_many = client.post("/v1/events", json={"events": [event()] * 1001}, headers=headers)
    assert too_many.status_code == 422
    assert too_many.json()["detail"].startswith("events:")
    assert client.post("/v1/events", json={"events": []}, headers=headers).status_code == 422
    not_json = client.post("/v1/events", content=b"{nope", headers=headers)
    assert not_json.status_code == 415  # sent without a Content-Type
    json_headers = {**headers, "Content-Type": "application/json"}
    not_json = client.post("/v1/events", content=b"{nope", headers=json_headers)
    assert not_json.status_code == 400

    after = len(
        client.get("/v1/events", params={"limit": 1000}, headers=admin_headers).json()["items"]
    )
    assert after == before
    assert client.get("/v1/identities/etl-bot", headers=admin_headers).status_code == 404


def test_a_full_batch_is_accepted_and_other_scopes_are_refused(
    client: TestClient, admin_headers: dict[str, str], cli: Any
) -> None:
    headers = reporter_headers(cli)
    batch = [
        event(
            occurred_at=f"2026-12-01T10:{n // 60:02d}:{n % 60:02d}Z",
            actor={"name": f"a{n % 7}", "kind": "service"},
        )
        for n in range(1000)
    ]
    sent = client.post("/v1/events", json={"events": batch}, headers=headers)
    assert sent.status_code == 201, sent.text
    assert sent.json()["accepted"] == 1000
    assert sorted(sent.json()["shadow_identities"]) == [f"a{n}" for n in range(7)]

    reader = client.get("/v1/identities/gateway", headers=admin_headers).json()
    assert reader["name"] == "gateway"
    read_only = client.post(
        "/v1/tokens",
        json={"identity": "gateway", "scopes": ["events:read"]},
        headers=admin_headers,
    ).json()
    refused = client.post(
        "/v1/events",
        json={"events": [event()]},
        headers={"Authorization": f"Bearer {read_only['token']}"},
    )
    assert refused.status_code == 403
    assert "events:write" in refused.json()["detail"]
