"""Reading the event log back over HTTP with filters and cursors."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_events_filter_by_action_family_outcome_and_time(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    for name in ("e1", "e2", "e3"):
        client.post("/v1/identities", json={"kind": "service", "name": name}, headers=admin_headers)
    client.post("/v1/identities/e2/suspend", headers=admin_headers)

    family = client.get("/v1/events?action=identity.*", headers=admin_headers).json()["items"]
    assert [e["action"] for e in family].count("identity.create") == 4  # admin + three
    assert family[-1]["action"] == "identity.suspend"
    assert all(e["outcome"] == "success" for e in family)

    exact = client.get("/v1/events?action=identity.suspend", headers=admin_headers).json()["items"]
    assert [e["resource"]["name"] for e in exact] == ["e2"]

    first_time = family[0]["occurred_at"]
    none_before = client.get(
        "/v1/events", params={"until": first_time}, headers=admin_headers
    ).json()
    assert all(e["occurred_at"] < first_time for e in none_before["items"])

    denied = client.get("/v1/events?outcome=denied", headers=admin_headers).json()
    assert denied["items"] == []
    bad = client.get("/v1/events?outcome=maybe", headers=admin_headers)
    assert bad.status_code == 422


def test_event_cursor_walks_the_log_in_order_without_repeats(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    for n in range(5):
        client.post(
            "/v1/identities", json={"kind": "service", "name": f"s{n}"}, headers=admin_headers
        )
    seqs: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/events", params=params, headers=admin_headers).json()
        seqs += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seqs == sorted(seqs)
    assert len(seqs) == len(set(seqs))
    assert len(seqs) >= 8  # init wrote three, plus five creations
    assert client.get("/v1/events?cursor=zzz", headers=admin_headers).status_code == 400

    newest = client.get("/v1/events?order=newest&limit=2", headers=admin_headers).json()
    latest = [e["seq"] for e in newest["items"]]  # the two latest, oldest of them first
    assert len(latest) == 2 and latest[0] < latest[1] and latest[0] >= seqs[-2]
    both = client.get(f"/v1/events?order=newest&cursor={cursor or 'x'}", headers=admin_headers)
    assert both.status_code == 422
    assert both.headers["content-type"].startswith("application/problem+json")


def test_identity_filter_includes_what_was_done_on_its_behalf(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    from limen.audit import Actor, record

    app_db = client.app.state.services.db  # type: ignore[attr-defined]
    alice = client.post(
        "/v1/identities",
        json={"kind": "human", "name": "alice", "email": "alice@example.com"},
        headers=admin_headers,
    ).json()
    on_behalf = Actor(
        kind="agent",
        name="helper",
        identity_id="b" * 26,
        delegation=({"id": alice["id"], "kind": "human", "name": "alice"},),
    )
    with app_db.unit_of_work() as uow:
        record(uow.session, on_behalf, "vault.secret.read", resource_type="vault_item")
        record(uow.session, Actor(kind="agent", name="other", identity_id="c" * 26), "x.y")

    mine = client.get(
        "/v1/events", params={"identity": "alice@example.com"}, headers=admin_headers
    ).json()["items"]
    assert [e["action"] for e in mine] == ["vault.secret.read"]
    assert mine[0]["delegation"][0]["id"] == alice["id"]

    agents = client.get("/v1/events", params={"kind": "agent"}, headers=admin_headers).json()
    assert {e["actor"]["name"] for e in agents["items"]} == {"helper", "other"}
    missing = client.get("/v1/events", params={"identity": "nobody"}, headers=admin_headers)
    assert missing.status_code == 404


def test_json_lines_export_streams_every_match(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    import json

    for n in range(3):
        client.post(
            "/v1/identities", json={"kind": "service", "name": f"j{n}"}, headers=admin_headers
        )
    response = client.get(
        "/v1/events",
        params={"format": "jsonl", "action": "identity.create"},
        headers=admin_headers,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) == 4  # the admin and three services
    assert all(line["chain_position"] and line["link"] for line in lines)
    positions = [line["chain_position"] for line in lines]
    assert positions == sorted(positions)
