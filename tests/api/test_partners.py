"""Users API for Partners over HTTP, as a SOAR would call it, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from limen import identity
from limen.audit import Actor
from limen.installation import InitResult
from limen.store import Database

ALL_SCOPES = ("users:read", "users:suspend", "users:reactivate")


def _identity(db: Database, **fields: Any) -> str:
    with db.unit_of_work() as uow:
        return identity.create(uow, Actor.system("test"), **fields).id


def _token(db: Database, ref: str, scopes: tuple[str, ...] = ()) -> str:
    with db.unit_of_work() as uow:
        held_by = identity.get(uow.session, ref)
        _, raw = identity.issue_api_token(
            uow, Actor.system("test"), held_by, purpose="service-account", scopes=scopes
        )
        return raw


@pytest.fixture
def partner(db: Database, installed: InitResult) -> dict[str, str]:
    _identity(db, kind="service", name="elastic-soar", attributes={"partner": True})
    return {"Authorization": f"Bearer {_token(db, 'elastic-soar', ALL_SCOPES)}"}


@pytest.fixture
def base(installed: InitResult) -> str:
    return f"/v1beta1/accounts/{installed.account_id}"


def test_lists_users_with_paging_and_the_1password_user_object(
    client: TestClient, db: Database, partner: dict[str, str], base: str, installed: InitResult
) -> None:
    for n in range(5):
        _identity(db, kind="human", name=f"user-{n}", email=f"user{n}@example.com")
    seen: list[dict[str, Any]] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"max_page_size": 2}
        if token:
            params["page_token"] = token
        response = client.get(f"{base}/users", params=params, headers=partner)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["results"]
        pages += 1
        token = body.get("next_page_token")
        if not token:
            break
    assert pages == 3
    assert [u["email"] for u in seen] == ["admin@example.com"] + [
        f"user{n}@example.com" for n in range(5)
    ]
    first = seen[1]
    assert set(first) == {"id", "email", "display_name", "state", "create_time", "path"}
    assert first["state"] == "ACTIVE"
    assert first["display_name"] == "user-0"
    assert first["path"] == f"accounts/{installed.account_id}/users/{first['id']}"
    assert first["create_time"].endswith("Z")

    one = client.get(f"{base}/users/{first['id']}", headers=partner)
    assert one.json() == first
    # 1Password's User object always has an email: a user without one (made with no
    # email) has the key, empty, so a client written to those docs does not crash.
    _identity(db, kind="human", name="no-mail")
    users = client.get(f"{base}/users", params={"max_page_size": 100}, headers=partner).json()
    assert all("email" in user for user in users["results"])
    assert [u["email"] for u in users["results"] if u["display_name"] == "no-mail"] == [""]
    upper = client.get(f"{base}/users/{first['id'].upper()}", headers=partner)
    assert upper.json() == first


def test_filters_and_machine_collections(
    client: TestClient, db: Database, partner: dict[str, str], base: str
) -> None:
    alice = _identity(db, kind="human", name="alice", email="alice@example.com")
    bot = _identity(db, kind="agent", name="alice-bot", owner="alice")
    client.post(f"{base}/users/{alice}:suspend", headers=partner)

    suspended = client.get(
        f"{base}/users", params={"filter": "user.isSuspended()"}, headers=partner
    ).json()
    assert [u["id"] for u in suspended["results"]] == [alice]
    active = client.get(f"{base}/users", params={"filter": "user.isActive()"}, headers=partner)
    assert alice not in [u["id"] for u in active.json()["results"]]

    agents = client.get(f"{base}/agents", headers=partner).json()["results"]
    assert agents == [
        {
            "id": bot,
            "email": "",
            "display_name": "alice-bot",
            "state": "ACTIVE",
            "create_time": agents[0]["create_time"],
            "path": f"{agents[0]['path']}",
            "kind": "agent",
            "owner": alice,
        }
    ]
    assert agents[0]["path"].endswith(f"/agents/{bot}")
    by_noun = client.get(f"{base}/agents", params={"filter": "agent.isActive()"}, headers=partner)
    assert [a["id"] for a in by_noun.json()["results"]] == [bot]
    services = client.get(f"{base}/services", headers=partner).json()["results"]
    assert [s["display_name"] for s in services] == ["elastic-soar"]
    # A user id is not an agent: the collections do not leak into each other.
    assert client.get(f"{base}/agents/{alice}", headers=partner).status_code == 404


def test_suspend_is_idempotent_and_reactivation_does_not_revive_tokens(
    client: TestClient, db: Database, partner: dict[str, str], base: str
) -> None:
    svc = _identity(db, kind="service", name="ci-deployer")
    raw = _token(db, "ci-deployer", ("identities:read",))
    own = {"Authorization": f"Bearer {raw}"}
    assert client.get("/v1/identities/ci-deployer", headers=own).status_code == 200

    first = client.post(f"{base}/services/{svc}:suspend", headers=partner)
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "SUSPENDED"
    assert client.get("/v1/identities/ci-deployer", headers=own).status_code == 401
    again = client.post(f"{base}/services/{svc}:suspend", headers=partner)
    assert again.status_code == 200
    assert again.json() == first.json()

    back = client.post(f"{base}/services/{svc}:reactivate", headers=partner)
    assert back.json()["state"] == "ACTIVE"
    assert client.post(f"{base}/services/{svc}:reactivate", headers=partner).status_code == 200
    # The identity is back; the token it held when it was suspended is not.
    assert client.get("/v1/identities/ci-deployer", headers=own).status_code == 401


def test_cascade_suspends_a_humans_agents_and_reactivation_undoes_only_that(
    client: TestClient, db: Database, partner: dict[str, str], base: str, admin_headers: Any
) -> None:
    bob = _identity(db, kind="human", name="bob", email="bob@example.com", roles=["viewer"])
    bots = [_identity(db, kind="agent", name=f"bob-bot-{n}", owner="bob") for n in range(3)]
    already = _identity(db, kind="agent", name="bob-old-bot", owner="bob")
    client.post(f"{base}/agents/{already}:suspend", headers=partner)
    bot_token = {"Authorization": f"Bearer {_token(db, 'bob-bot-0', ('identities:read',))}"}
    assert client.get("/v1/identities/bob", headers=bot_token).status_code == 200

    response = client.post(f"{base}/users/{bob}:suspend?cascade=true", headers=partner)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "SUSPENDED"
    agents = client.get(f"{base}/agents", headers=partner).json()["results"]
    assert {a["state"] for a in agents} == {"SUSPENDED"}
    assert client.get("/v1/identities/bob", headers=bot_token).status_code == 401

    # Someone decides separately about bob-bot-2 in the meantime; that decision stands.
    back = client.post(f"{base}/agents/{bots[2]}:reactivate", headers=partner)
    assert back.status_code == 200, back.text
    again = client.post(f"{base}/agents/{bots[2]}:suspend?reason=own+incident", headers=partner)
    assert again.status_code == 200, again.text

    client.post(f"{base}/users/{bob}:reactivate?cascade=true", headers=partner)
    states = {
        a["id"]: a["state"] for a in client.get(f"{base}/agents", headers=partner).json()["results"]
    }
    assert states == {
        bots[0]: "ACTIVE",
        bots[1]: "ACTIVE",
        bots[2]: "SUSPENDED",
        already: "SUSPENDED",
    }

    events = client.get(
        "/v1/events", params={"action": "partner.*", "limit": 100}, headers=admin_headers
    ).json()["items"]
    assert all(e["actor"]["name"] == "elastic-soar" for e in events)
    assert all(e["context"]["partner"] == "elastic-soar" for e in events)
    cascade = client.get(
        "/v1/events", params={"action": "containment.cascade"}, headers=admin_headers
    ).json()["items"]
    assert cascade[0]["context"]["suspended"] == bots
    assert cascade[0]["actor"]["name"] == "elastic-soar"


def test_the_last_active_admin_cannot_be_suspended(
    client: TestClient, partner: dict[str, str], base: str, installed: InitResult
) -> None:
    response = client.post(f"{base}/users/{installed.admin_id}:suspend", headers=partner)
    assert response.status_code == 409
    assert response.json()["code"] == "last-admin"
    user = client.get(f"{base}/users/{installed.admin_id}", headers=partner).json()
    assert user["state"] == "ACTIVE"


def test_each_call_needs_its_scope(
    client: TestClient, db: Database, base: str, installed: InitResult
) -> None:
    alice = _identity(db, kind="human", name="alice")
    _identity(db, kind="service", name="reader", attributes={"partner": True})
    reader = {"Authorization": f"Bearer {_token(db, 'reader', ('users:read',))}"}
    assert client.get(f"{base}/users", headers=reader).status_code == 200
    denied = client.post(f"{base}/users/{alice}:suspend", headers=reader)
    assert denied.status_code == 403
    assert "users:suspend" in denied.json()["detail"]
    assert client.post(f"{base}/users/{alice}:reactivate", headers=reader).status_code == 403
    assert client.get(f"{base}/users").status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "status", "needle"),
    [
        ("/users", {"filter": "user.isDeleted()"}, 400, "filter"),
        ("/users", {"filter": "agent.isActive()"}, 400, "filter"),
        ("/users", {"max_page_size": 1001}, 400, "max_page_size"),
        ("/users", {"max_page_size": 0}, 400, "max_page_size"),
        ("/users", {"max_page_size": "many"}, 400, "max_page_size"),
        ("/users", {"page_token": "not-a-token"}, 400, "page_token"),
        ("/users/" + "a" * 26, {}, 404, "a" * 26),
        ("/users/ghost", {}, 404, "ghost"),
    ],
)
def test_bad_requests_get_clear_errors(
    client: TestClient,
    partner: dict[str, str],
    base: str,
    path: str,
    params: dict[str, Any],
    status: int,
    needle: str,
) -> None:
    response = client.get(base + path, params=params, headers=partner)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert needle in response.json()["detail"]


def test_page_tokens_and_accounts_are_checked(
    client: TestClient, db: Database, partner: dict[str, str], base: str
) -> None:
    for n in range(3):
        _identity(db, kind="human", name=f"h{n}")
    token = client.get(f"{base}/users", params={"max_page_size": 1}, headers=partner).json()[
        "next_page_token"
    ]
    other_filter = client.get(
        f"{base}/users",
        params={"page_token": token, "filter": "user.isSuspended()"},
        headers=partner,
    )
    assert other_filter.status_code == 400
    assert "different" in other_filter.json()["detail"]
    other_list = client.get(f"{base}/agents", params={"page_token": token}, headers=partner)
    assert other_list.status_code == 400
    wrong_account = client.get("/v1beta1/accounts/" + "b" * 26 + "/users", headers=partner)
    assert wrong_account.status_code == 404
    assert wrong_account.json()["code"] == "account-not-found"
    unknown = client.post(f"{base}/users/ghost:suspend", headers=partner)
    assert unknown.status_code == 404
