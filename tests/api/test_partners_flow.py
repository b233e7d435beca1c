"""The whole partner story over real HTTP, as a SOAR would drive it with httpx.

Register the partner with the CLI, get a 15-minute token with HTTP Basic, page through
users, suspend a human whose agent holds a delegated token, and see that token refused by
introspection and by the PDP at once; then cascade, revoke, and the partner's own end.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from limen import identity, tokens
from limen.api import create_app
from limen.audit import Actor
from limen.installation import InitResult
from limen.store import Database
from tests.conftest import serve
from tests.respond._waiting import wait_for

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


def _client(db: Database, name: str, scopes: list[str], **fields: Any) -> tuple[str, str, str]:
    with db.unit_of_work() as uow:
        row = identity.create(uow, Actor.system("test"), name=name, **fields)
        client, secret = tokens.register_client(uow, Actor.system("test"), row, scopes=scopes)
        assert secret is not None
        return row.id, client.client_id, secret


def _client_token(url: str, client_id: str, secret: str) -> str:
    r = httpx.post(
        f"{url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture
def world(db: Database, installed: InitResult, live_server: Any) -> dict[str, Any]:
    """Alice, two agents that act for her with delegated tokens, and a permissive policy."""
    url = live_server.url
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    alice = _client(db, "alice", ["tools:call"], kind="human", email="alice@example.com")
    bots = [
        _client(db, f"alice-bot-{n}", ["tools:call"], kind="agent", owner="alice") for n in range(2)
    ]
    for n in range(3):
        with db.unit_of_work() as uow:
            identity.create(uow, Actor.system("test"), kind="human", name=f"user-{n}")
    human_token = _client_token(url, alice[1], alice[2])
    delegated = []
    for _, client_id, secret in bots:
        r = httpx.post(
            f"{url}/oauth2/token",
            data={
                "grant_type": EXCHANGE,
                "subject_token": human_token,
                "subject_token_type": ACCESS,
            },
            auth=(client_id, secret),
        )
        assert r.status_code == 200, r.text
        delegated.append(r.json()["access_token"])
    policy = httpx.put(
        f"{url}/v1/policies/tools",
        json={"text": 'permit(principal, action == Limen::Action::"call", resource);'},
        headers=admin,
    )
    assert policy.status_code == 200, policy.text
    return {
        "url": url,
        "admin": admin,
        "alice": alice[0],
        "bots": [b[0] for b in bots],
        "bot_own": [_client_token(url, b[1], b[2]) for b in bots],
        "bot_clients": [(b[1], b[2]) for b in bots],
        "delegated": delegated,
    }


def _introspect(world: dict[str, Any], token: str) -> bool:
    r = httpx.post(
        f"{world['url']}/oauth2/introspect", data={"token": token}, headers=world["admin"]
    )
    assert r.status_code == 200, r.text
    return r.json()["active"]


def _pdp(world: dict[str, Any], subject: str, token: str) -> bool:
    r = httpx.post(
        f"{world['url']}/access/v1/evaluation",
        json={
            "subject": {"type": "agent", "id": subject},
            "action": {"name": "call"},
            "resource": {"type": "tool", "id": "deploy"},
            "context": {"token": token},
        },
        headers=world["admin"],
    )
    assert r.status_code == 200, r.text
    return r.json()["decision"]


def test_a_soar_contains_a_human_and_the_agents_acting_for_her(
    cli: Any, world: dict[str, Any], installed: InitResult
) -> None:
    url = world["url"]
    created = cli(
        "partner",
        "create",
        "elastic-soar",
        "--scopes",
        "users:read,users:suspend,users:reactivate",
        "--json",
    )
    assert created.exit_code == 0, created.stderr
    partner = json.loads(created.stdout)
    assert partner["account_id"] == installed.account_id
    basic = (partner["client_id"], partner["client_secret"])

    # The token request exactly as 1Password documents it: Basic auth, form body.
    issued = httpx.post(
        f"{url}/v1beta1/users/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "openid"},
        auth=basic,
    )
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    soar = httpx.Client(
        base_url=f"{url}/v1beta1/accounts/{installed.account_id}",
        headers={"Authorization": f"Bearer {body['access_token']}", "User-Agent": "SOAR/1.0"},
    )

    # Page through every user, two at a time.
    emails: list[str | None] = []
    token = None
    while True:
        page = soar.get(
            "/users", params={"max_page_size": 2, **({"page_token": token} if token else {})}
        )
        assert page.status_code == 200, page.text
        emails += [u.get("email") for u in page.json()["results"]]
        token = page.json().get("next_page_token")
        if not token:
            break
    assert len(emails) == 5 and "alice@example.com" in emails

    # Before: every token of the agents is honoured.
    for bot, own, delegated in zip(
        world["bots"], world["bot_own"], world["delegated"], strict=True
    ):
        checks = [_introspect(world, t) and _pdp(world, bot, t) for t in (delegated, own)]
        assert checks == [True, True]

    suspended = soar.post(f"/users/{world['alice']}:suspend")
    assert suspended.status_code == 200
    assert suspended.json()["state"] == "SUSPENDED"
    # The moment :suspend returns, what the agents hold on her behalf is refused...
    for bot, delegated in zip(world["bots"], world["delegated"], strict=True):
        active = _introspect(world, delegated)
        permitted = _pdp(world, bot, delegated)
        assert not active
        assert not permitted
    # No cascade was asked for: the agents themselves are still active.
    states = {a["id"]: a["state"] for a in soar.get("/agents").json()["results"]}
    assert states == dict.fromkeys(world["bots"], "ACTIVE")
    listed = soar.get("/users", params={"filter": "user.isSuspended()"}).json()["results"]
    assert [u["id"] for u in listed] == [world["alice"]]

    # With cascade the agents themselves are suspended: their own tokens die too.
    soar.post(f"/users/{world['alice']}:reactivate")
    cascaded = soar.post(f"/users/{world['alice']}:suspend", params={"cascade": "true"})
    assert cascaded.status_code == 200
    agents = soar.get("/agents", params={"filter": "agent.isSuspended()"}).json()["results"]
    assert sorted(a["id"] for a in agents) == sorted(world["bots"])
    assert {a["owner"] for a in agents} == {world["alice"]}
    for bot, own in zip(world["bots"], world["bot_own"], strict=True):
        checks = [_introspect(world, own), _pdp(world, bot, own)]
        assert checks == [False, False]
    # Their OAuth clients get no new tokens while they are suspended.
    for credentials in world["bot_clients"]:
        fresh = httpx.post(
            f"{url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=credentials
        )
        assert fresh.status_code == 401

    # The last admin stays; a read-only partner cannot suspend.
    last = soar.post(f"/users/{installed.admin_id}:suspend")
    assert last.status_code == 409
    reader = json.loads(
        cli("partner", "create", "siem-reader", "--scopes", "users:read", "--json").stdout
    )
    read_token = httpx.post(
        f"{url}/v1beta1/users/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(reader["client_id"], reader["client_secret"]),
    ).json()["access_token"]
    refused = httpx.post(
        f"{url}/v1beta1/accounts/{installed.account_id}/users/{world['alice']}:reactivate",
        headers={"Authorization": f"Bearer {read_token}"},
    )
    assert refused.status_code == 403

    # Revoking the partner's token (RFC 7009, Basic auth) ends it.
    revoked = httpx.post(
        f"{url}/v1beta1/users/oauth2/revoke", data={"token": body["access_token"]}, auth=basic
    )
    assert revoked.status_code == 200
    assert soar.get("/users").status_code == 401

    # Every partner call is in the event log under the partner's name.
    events = httpx.get(
        f"{url}/v1/events", params={"action": "partner.*", "limit": 200}, headers=world["admin"]
    ).json()["items"]
    soar_events = [e for e in events if e["actor"]["name"] == "elastic-soar"]
    assert {e["action"] for e in soar_events} >= {"partner.list", "partner.suspend"}
    assert all(e["context"]["partner"] == "elastic-soar" for e in soar_events)

    # Revoking the partner from the CLI stops its client for good.
    assert cli("partner", "revoke", "elastic-soar").exit_code == 0
    again = httpx.post(
        f"{url}/v1beta1/users/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=basic,
    )
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"
    listing = json.loads(cli("partner", "list", "--json").stdout)
    assert {p["name"]: p["clients"][0]["revoked"] for p in listing} == {
        "elastic-soar": True,
        "siem-reader": False,
    }


def test_partner_token_endpoint_errors_are_oauth_errors(
    cli: Any, live_server: Any, db: Database, installed: InitResult
) -> None:
    url = live_server.url
    partner = json.loads(cli("partner", "create", "ids", "--scopes", "users:read", "--json").stdout)
    basic = (partner["client_id"], partner["client_secret"])
    wrong = httpx.post(
        f"{url}/v1beta1/users/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(partner["client_id"], "wrong"),
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    grant = httpx.post(
        f"{url}/v1beta1/users/oauth2/token", data={"grant_type": "password"}, auth=basic
    )
    assert grant.json()["error"] == "unsupported_grant_type"
    more = httpx.post(
        f"{url}/v1beta1/users/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "users:suspend"},
        auth=basic,
    )
    assert more.json()["error"] == "invalid_scope"
    assert partner["client_secret"] not in wrong.text + grant.text + more.text

    # Not a partner: an ordinary client cannot get partner-lifetime tokens here.
    _, client_id, secret = _client(db, "ci-bot", ["users:read"], kind="service")
    other = httpx.post(
        f"{url}/v1beta1/users/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert other.status_code == 400
    assert other.json()["error"] == "unauthorized_client"

    bad_scope = cli("partner", "create", "greedy", "--scopes", "vault:read")
    assert bad_scope.exit_code == 2
    assert "partners may hold only" in bad_scope.stderr


def test_suspension_on_one_node_is_honoured_by_another(
    cli: Any, db: Database, settings: Any, installed: InitResult
) -> None:
    partner = json.loads(
        cli("partner", "create", "soar", "--scopes", "users:suspend", "--json").stdout
    )
    target, client_id, secret = _client(db, "worker", ["tools:call"], kind="service")
    second = Database(settings.resolved_database_url)
    try:
        with (
            serve(create_app(settings, database=db)) as node_a,
            serve(create_app(settings, database=second)) as node_b,
        ):
            admin = {"Authorization": f"Bearer {installed.admin_token}"}
            httpx.put(
                f"{node_a.url}/v1/policies/tools",
                json={"text": 'permit(principal, action == Limen::Action::"call", resource);'},
                headers=admin,
            ).raise_for_status()
            token = _client_token(node_a.url, client_id, secret)
            world = {"url": node_b.url, "admin": admin}
            assert _introspect(world, token)
            permitted = _pdp(world, target, token)
            assert permitted

            issued = httpx.post(
                f"{node_a.url}/v1beta1/users/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(partner["client_id"], partner["client_secret"]),
            ).json()["access_token"]
            suspended = httpx.post(
                f"{node_a.url}/v1beta1/accounts/{installed.account_id}/services/{target}:suspend",
                headers={"Authorization": f"Bearer {issued}"},
            )
            assert suspended.status_code == 200
            # Node B hears of it (NOTIFY on PostgreSQL, the log on SQLite) and refuses.
            wait_for(lambda: not _pdp(world, target, token), seconds=5)
            assert not _introspect(world, token)
    finally:
        second.dispose()
