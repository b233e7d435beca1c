"""The native identity API over HTTP, on both backends."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def _create(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/v1/identities", json=body, headers=headers)


def test_create_list_show_an_agent_owned_by_a_human(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    alice = _create(client, admin_headers, kind="human", name="alice", email="Alice@Example.com")
    assert alice.status_code == 201, alice.text
    assert alice.json()["email"] == "alice@example.com"

    bot = _create(
        client,
        admin_headers,
        kind="agent",
        name="deploy-bot",
        owner="alice@example.com",
        attributes={"model": "claude", "tools": ["deploy"]},
    )
    assert bot.status_code == 201, bot.text
    body = bot.json()
    assert body["owner_id"] == alice.json()["id"]
    assert body["status"] == "active"
    assert body["attributes"] == {"model": "claude", "tools": ["deploy"]}

    by_id = client.get(f"/v1/identities/{body['id']}", headers=admin_headers)
    by_name = client.get("/v1/identities/deploy-bot", headers=admin_headers)
    assert by_id.json() == by_name.json() == body

    agents = client.get("/v1/identities?kind=agent", headers=admin_headers).json()
    assert [i["name"] for i in agents["items"]] == ["deploy-bot"]
    owned = client.get("/v1/identities?owner=alice", headers=admin_headers).json()
    assert [i["name"] for i in owned["items"]] == ["deploy-bot"]


def test_list_searches_names_and_keeps_shadow_identities_apart(
    client: TestClient, admin_headers: dict[str, str], db: Any
) -> None:
    from limen import identity
    from limen.audit import Actor

    _create(client, admin_headers, kind="human", name="carol", display_name="Carol Danvers")
    _create(client, admin_headers, kind="agent", name="carol_bot", owner="carol")
    _create(client, admin_headers, kind="service", name="carolXjob")
    with db.unit_of_work() as uow:
        identity.create(uow, Actor.operator(), kind="agent", name="found-1", managed=False)

    def names(**params: Any) -> list[str]:
        page = client.get("/v1/identities", params=params, headers=admin_headers)
        assert page.status_code == 200, page.text
        return [i["name"] for i in page.json()["items"]]

    assert names(q="DANVERS") == ["carol"]
    assert names(q="carol_") == ["carol_bot"]  # an underscore is a character, not a wildcard
    assert names(managed="false") == ["found-1"]
    assert "found-1" not in names(managed="true")
    assert names(q="carol", kind="agent") == ["carol_bot"]
    assert names(q="carolx") == ["carolXjob"]


def test_list_pages_with_a_cursor_and_returns_each_identity_once(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    for n in range(7):
        assert _create(client, admin_headers, kind="service", name=f"svc-{n}").status_code == 201
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"kind": "service", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/identities", params=params, headers=admin_headers).json()
        seen += [i["name"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"svc-{n}" for n in range(7)]
    assert len(seen) == len(set(seen))
    assert pages == 3


def test_suspend_and_reactivate_are_idempotent_and_recorded(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _create(client, admin_headers, kind="human", name="bob")
    bot = _create(client, admin_headers, kind="agent", name="bot", owner="bob").json()

    first = client.post(
        f"/v1/identities/{bot['id']}/suspend", json={"reason": "leaked key"}, headers=admin_headers
    )
    assert first.status_code == 200
    assert first.json()["status"] == "suspended"
    assert first.json()["status_reason"] == "leaked key"
    again = client.post(f"/v1/identities/{bot['id']}/suspend", headers=admin_headers)
    assert again.status_code == 200
    assert again.json()["status"] == "suspended"

    listed = client.get("/v1/identities?status=suspended", headers=admin_headers).json()
    assert [i["name"] for i in listed["items"]] == ["bot"]

    back = client.post(f"/v1/identities/{bot['id']}/reactivate", headers=admin_headers)
    assert back.json()["status"] == "active"

    events = client.get(
        "/v1/events", params={"resource_id": bot["id"]}, headers=admin_headers
    ).json()["items"]
    assert [e["action"] for e in events] == [
        "identity.create",
        "identity.suspend",
        "identity.reactivate",
    ]
    suspend_event = events[1]
    assert suspend_event["reason"] == "leaked key"
    assert suspend_event["actor"]["name"] == "admin"
    assert suspend_event["actor"]["kind"] == "human"
    assert suspend_event["token_id"]
    assert suspend_event["context"]["from"] == "active"
    assert suspend_event["context"]["to"] == "suspended"
    assert suspend_event["context"]["ip"]


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    return body


def test_bad_input_gets_a_clear_4xx_problem(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _create(client, admin_headers, kind="human", name="carol")

    unknown_owner = _create(client, admin_headers, kind="agent", name="a1", owner="nobody")
    assert "nobody" in _problem(unknown_owner, 422)["detail"]

    no_owner = _create(client, admin_headers, kind="agent", name="a2")
    assert "owner" in _problem(no_owner, 422)["detail"]

    duplicate = _create(client, admin_headers, kind="human", name="carol")
    assert "carol" in _problem(duplicate, 409)["detail"]

    wrong_kind = _create(client, admin_headers, kind="robot", name="r2")
    assert "kind" in _problem(wrong_kind, 422)["detail"]

    malformed = client.post(
        "/v1/identities",
        content=b'{"kind": "human", "name": ',
        headers={**admin_headers, "content-type": "application/json"},
    )
    _problem(malformed, 400)

    agent_owner = _create(client, admin_headers, kind="agent", name="a3", owner="carol").json()
    owned_by_agent = _create(
        client, admin_headers, kind="agent", name="a4", owner=agent_owner["id"]
    )
    assert "owners must be humans" in _problem(owned_by_agent, 422)["detail"]

    unknown_id = client.get("/v1/identities/" + "a" * 26, headers=admin_headers)
    _problem(unknown_id, 404)
    unknown_suspend = client.post("/v1/identities/ghost/suspend", headers=admin_headers)
    _problem(unknown_suspend, 404)

    bad_cursor = client.get("/v1/identities?cursor=!!!", headers=admin_headers)
    assert "invalid cursor" in _problem(bad_cursor, 400)["detail"]


def test_framework_errors_are_problem_details(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _problem(client.get("/no/such/route", headers=admin_headers), 404)
    _problem(client.delete("/v1/identities", headers=admin_headers), 405)
    _problem(client.get("/v1/identities?limit=0", headers=admin_headers), 422)
    huge = client.post(
        "/v1/identities",
        content=b"x" * 2_000_000,
        headers={**admin_headers, "content-type": "application/json"},
    )
    _problem(huge, 413)
    streamed = client.post(  # chunked: no length to check first, so counted as it arrives
        "/v1/identities",
        content=iter([b"x" * 600_000] * 4),
        headers={**admin_headers, "content-type": "application/json"},
    )
    _problem(streamed, 413)


def test_every_route_but_health_needs_a_bearer_token(client: TestClient) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["database"]["reachable"] is True

    missing = client.get("/v1/identities")
    assert _problem(missing, 401)["code"] == "unauthenticated"
    assert missing.headers["www-authenticate"] == 'Bearer realm="limen"'  # RFC 6750 §3
    wrong = client.get("/v1/identities", headers={"Authorization": "Bearer limen_nope"})
    assert wrong.headers["www-authenticate"] == 'Bearer realm="limen", error="invalid_token"'
    assert _problem(wrong, 401)["code"] == "invalid-token"
    _problem(client.get("/v1/events"), 401)


def test_a_suspended_admins_token_stops_working_at_once(
    client: TestClient, admin_headers: dict[str, str], db: Any
) -> None:
    from limen.audit import Actor
    from limen.identity import create, issue_api_token

    with db.unit_of_work() as uow:
        second = create(uow, Actor.system(), kind="human", name="dana", roles=["admin"])
        _, dana_token = issue_api_token(uow, Actor.system(), second, purpose="admin", scopes=["*"])
    dana = {"Authorization": f"Bearer {dana_token}"}
    assert client.get("/v1/identities", headers=dana).status_code == 200
    assert client.post("/v1/identities/dana/suspend", headers=admin_headers).status_code == 200
    assert client.get("/v1/identities", headers=dana).status_code == 401


def test_the_last_active_admin_cannot_be_suspended(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.post("/v1/identities/admin/suspend", headers=admin_headers)
    assert _problem(response, 409)["code"] == "last-admin"
    assert client.get("/v1/identities", headers=admin_headers).status_code == 200


def test_a_token_without_the_scope_is_forbidden(client: TestClient, db: Any) -> None:
    from limen.audit import Actor
    from limen.identity import create, issue_api_token

    with db.unit_of_work() as uow:
        reader = create(uow, Actor.system(), kind="service", name="reporting")
        _, raw = issue_api_token(
            uow, Actor.system(), reader, purpose="test", scopes=["identities:read"]
        )
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/v1/identities", headers=headers).status_code == 200
    denied = client.post("/v1/identities", json={"kind": "human", "name": "x"}, headers=headers)
    assert "identities:write" in _problem(denied, 403)["detail"]
    _problem(client.get("/v1/events", headers=headers), 403)


def test_update_changes_only_what_is_sent_and_refuses_what_the_cli_refuses(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _create(client, admin_headers, kind="human", name="erin", email="erin@example.com")
    _create(client, admin_headers, kind="human", name="frank")
    _create(client, admin_headers, kind="agent", name="erin-bot", owner="erin")
    changed = client.patch(
        "/v1/identities/erin",
        json={"display_name": "Erin E.", "roles": ["auditor"]},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["display_name"], body["roles"], body["email"]) == (
        "Erin E.",
        ["auditor"],
        "erin@example.com",
    )
    moved = client.patch("/v1/identities/erin-bot", json={"owner": "frank"}, headers=admin_headers)
    assert (
        moved.json()["owner_id"]
        == client.get("/v1/identities/frank", headers=admin_headers).json()["id"]
    )

    assert _problem(client.patch("/v1/identities/erin", json={}, headers=admin_headers), 422)
    taken = client.patch(
        "/v1/identities/frank", json={"email": "erin@example.com"}, headers=admin_headers
    )
    assert _problem(taken, 409)["code"] == "identity-exists"
    last = client.patch("/v1/identities/admin", json={"roles": []}, headers=admin_headers)
    assert _problem(last, 409)["code"] == "last-admin"
    assert _problem(
        client.patch("/v1/identities/nobody", json={"display_name": "x"}, headers=admin_headers),
        404,
    )


def test_delete_deprovisions_for_good_and_cuts_off_what_it_owns(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _create(client, admin_headers, kind="human", name="gwen")
    bot = _create(client, admin_headers, kind="agent", name="gwen-bot", owner="gwen").json()
    token = client.post("/v1/tokens", json={"identity": "gwen-bot"}, headers=admin_headers)
    bot_headers = {"Authorization": f"Bearer {token.json()['token']}"}

    gone = client.delete("/v1/identities/gwen?reason=left", headers=admin_headers)
    assert gone.status_code == 200, gone.text
    body = gone.json()
    assert body["status"] == "deprovisioned" and body["cascaded"] == [bot["id"]]
    assert client.get("/v1/identities", headers=bot_headers).status_code == 401
    back = client.post("/v1/identities/gwen/reactivate", headers=admin_headers)
    assert _problem(back, 404)  # a deprovisioned identity is out of the directory for good
    assert _problem(client.delete("/v1/identities/admin", headers=admin_headers), 409)["code"] == (
        "last-admin"
    )
    assert _problem(client.delete("/v1/identities/nobody", headers=admin_headers), 404)


def test_offboarding_story_over_http(client: TestClient, admin_headers: dict[str, str]) -> None:
    _create(client, admin_headers, kind="human", name="hana")
    story = client.get("/v1/identities/hana/offboarding", headers=admin_headers)
    assert story.status_code == 200 and story.json() == []  # never offboarded
    assert _problem(client.get("/v1/identities/nobody/offboarding", headers=admin_headers), 404)


def test_a_person_is_deprovisioned_with_an_orphans_policy_over_http(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _create(client, admin_headers, kind="human", name="ivo")
    bot = _create(client, admin_headers, kind="agent", name="ivo-bot", owner="ivo").json()
    typo = client.post(
        "/v1/identities/ivo/deprovision", json={"orphans": "transfer"}, headers=admin_headers
    )
    assert "transfer-to-manager" in _problem(typo, 422)["detail"]
    assert client.get("/v1/identities/ivo", headers=admin_headers).json()["status"] == "active"

    done = client.post(
        "/v1/identities/ivo/deprovision",
        json={"orphans": "keep", "reason": "left"},
        headers=admin_headers,
    )
    assert done.status_code == 200, done.text
    step = done.json()
    assert (step["orphans"], step["kept"], step["names"][bot["id"]]) == (
        "keep",
        [bot["id"]],
        "ivo-bot",
    )
    assert client.get("/v1/identities/ivo-bot", headers=admin_headers).json()["status"] == "active"
    told = client.get("/v1/identities/ivo/offboarding", headers=admin_headers).json()
    assert [s["note"] for s in told] == ["left"]

    again = client.post("/v1/identities/ivo/deprovision", headers=admin_headers)
    assert "already deprovisioned" in _problem(again, 409)["detail"]
    machine = client.post("/v1/identities/ivo-bot/deprovision", headers=admin_headers)
    assert "only a person" in _problem(machine, 422)["detail"]
    nobody = client.post("/v1/identities/nobody/deprovision", headers=admin_headers)
    assert _problem(nobody, 404)
