"""Offboarding through SCIM: a person who owns two agents with live delegated tokens leaves.

Their tokens are refused by the PDP and by introspection at once, the agents are handled
per the ``orphans`` setting, the vault items they could read are flagged for rotation,
every step is an event, and ``limen identity offboarding`` explains what happened.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from limen import identity, tokens
from limen.api import create_app
from limen.audit import Actor
from limen.config import Settings
from limen.installation import InitResult
from limen.store import Database
from limen.store.models import Event
from limen.vault import Field, ItemDraft

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
SCIM = "application/scim+json"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture(params=["suspend", "transfer-to-manager", "keep"])
def orphans(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def scim_client(
    settings: Settings, db: Database, installed: InitResult, orphans: str
) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"orphans": orphans}), database=db)
    with TestClient(app, base_url="http://limen.test", raise_server_exceptions=False) as test:
        yield test


def _client(db: Database, ref: str) -> tuple[str, str]:
    with db.unit_of_work() as uow:
        row = identity.get(uow.session, ref)
        client, secret = tokens.register_client(
            uow, Actor.system("test"), row, scopes=["tools:call"]
        )
        assert secret is not None
        return client.client_id, secret


def _token(client: TestClient, credentials: tuple[str, str], **form: str) -> str:
    r = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", **form},
        auth=credentials,
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _decision(client: TestClient, admin: dict[str, str], subject: str, token: str) -> bool:
    r = client.post(
        "/access/v1/evaluation",
        json={
            "subject": {"type": "agent", "id": subject},
            "action": {"name": "call"},
            "resource": {"type": "tool", "id": "deploy"},
            "context": {"token": token},
        },
        headers=admin,
    )
    assert r.status_code == 200, r.text
    return r.json()["decision"]


def test_deleting_a_person_cuts_off_their_agents_and_flags_their_secrets(
    scim_client: TestClient, db: Database, installed: InitResult, orphans: str, cli: Any
) -> None:
    client = scim_client
    services = client.app.state.services  # type: ignore[attr-defined]
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    _, _, raw = services.provisioning.issue_token(Actor.operator(), "entra")
    scim = {"Authorization": f"Bearer {raw}", "Content-Type": SCIM}

    manager = client.post(
        "/scim/v2/Users", json={"userName": "mallory@example.com"}, headers=scim
    ).json()
    alice = client.post(
        "/scim/v2/Users",
        json={
            "userName": "alice@example.com",
            "externalId": "a-1",
            ENTERPRISE: {"manager": {"value": manager["id"]}},
        },
        headers=scim,
    ).json()
    with db.unit_of_work() as uow:
        bots = [
            identity.create(
                uow, Actor.system("test"), kind="agent", name=f"alice-bot-{n}", owner=alice["id"]
            ).id
            for n in range(2)
        ]
    assert (
        client.put(
            "/v1/policies/tools",
            json={"text": 'permit(principal, action == Limen::Action::"call", resource);'},
            headers=admin,
        ).status_code
        == 200
    )

    human_token = _token(client, _client(db, alice["id"]))
    delegated = [
        _token(
            client,
            _client(db, bot),
            grant_type=EXCHANGE,
            subject_token=human_token,
            subject_token_type=ACCESS,
        )
        for bot in bots
    ]
    assert all(_decision(client, admin, b, t) for b, t in zip(bots, delegated, strict=True))

    # What alice's agent could read: a vault it holds a read grant on.
    vault = services.vault.create_vault(Actor.operator(), "payments")
    item = services.vault.create_item(
        Actor.operator(),
        "payments",
        ItemDraft(title="stripe", fields=[Field(id="", type="CONCEALED", label="k", value="v")]),
    )
    with db.unit_of_work() as uow:
        bot = identity.get(uow.session, bots[0])
        _, bot_key = identity.issue_api_token(
            uow,
            Actor.system("test"),
            bot,
            purpose="service-account",
            scopes=[f"vault:{vault.id}:read"],
        )
    # The key authenticates (what it may do is bounded by alice's roles: none).
    before = client.get("/v1/vaults", headers={"Authorization": f"Bearer {bot_key}"})
    assert before.status_code == 403

    gone = client.delete(f"/scim/v2/Users/{alice['id']}", headers=scim)
    assert gone.status_code == 204, gone.text
    assert client.get(f"/scim/v2/Users/{alice['id']}", headers=scim).status_code == 404

    # Delegated tokens: refused by the PDP and by introspection, whatever the policy.
    assert not any(_decision(client, admin, b, t) for b, t in zip(bots, delegated, strict=True))
    for token in delegated:
        r = client.post("/oauth2/introspect", data={"token": token}, headers=admin)
        assert r.json()["active"] is False
    with db.unit_of_work(readonly=True) as uow:
        person = identity.get(uow.session, alice["id"])
        agents = [identity.get(uow.session, b) for b in bots]
        assert person.status == "deprovisioned"
        statuses = [str(a.status) for a in agents]
        owners = [a.owner_id for a in agents]
        events = {
            e.action: e
            for e in uow.session.scalars(
                sa.select(Event).where(Event.resource_id.in_([alice["id"], item.id]))
            )
        }
    if orphans == "suspend":
        assert statuses == ["suspended", "suspended"]
        assert owners == [alice["id"]] * 2
        # The agent's own key went with it.
        assert (
            client.get("/v1/vaults", headers={"Authorization": f"Bearer {bot_key}"}).status_code
            == 401
        )
    elif orphans == "transfer-to-manager":
        assert statuses == ["active", "active"]
        assert owners == [manager["id"]] * 2
    else:
        assert statuses == ["active", "active"]
        assert owners == [alice["id"]] * 2

    offboard = events["lifecycle.offboard"]
    assert offboard.context["orphans"] == orphans
    assert offboard.context["needs_rotation"] == [item.id]
    assert events["vault.item.rotation_needed"].reason == (
        "alice@example.com could read it and was offboarded"
    )
    assert "identity.deprovision" in events

    shown = cli("identity", "offboarding", alice["id"], "--json")
    assert shown.exit_code == 0, shown.stderr
    story = json.loads(shown.stdout)
    assert story[0]["orphans"] == orphans
    assert story[0]["needs_rotation"] == [item.id]
    # limen identity show tells the same story under the person.
    shown = cli("identity", "show", alice["id"])
    assert shown.exit_code == 0, shown.stderr
    words = " ".join(shown.stdout.split())
    assert f"Orphans policy: {orphans} (the LIMEN_ORPHANS setting)." in words
    assert "Flagged 1 vault item for rotation: payments/stripe." in words
    if orphans == "transfer-to-manager":
        assert "Re-parented to mallory@example.com: alice-bot-0, alice-bot-1." in words

    # The item says so itself: in its metadata over the API and on the command line, and
    # in the access review of anyone who still reaches it.
    why = "alice@example.com could read it and was offboarded"
    shown = client.get(f"/v1/vaults/{vault.id}/items/{item.id}", headers=admin).json()
    assert shown["rotationNeeded"]["reason"] == why
    got = cli("item", "get", "stripe", "--vault", "payments", "--json")
    assert json.loads(got.stdout)["rotation_needed"]["reason"] == why
    review = client.get("/v1/access/review", headers=admin).json()
    findings = {(i["name"], f["type"]) for i in review["identities"] for f in i["findings"]}
    assert (("alice-bot-0", "rotation-needed") in findings) is (orphans != "suspend")
    # The vault report lists it (the vault has no rotation policy), here and in the console.
    report = json.loads(cli("vault", "report", "--json").stdout)
    assert [(e["item"], e["rotation_needed"]["reason"]) for e in report] == [("stripe", why)]
    over_http = client.get("/v1/vault-report", headers=admin).json()
    assert [(e["item"], e["rotation_needed"]["reason"]) for e in over_http] == [("stripe", why)]
    table = cli("vault", "report").stdout  # a wrapped table: the words are there
    assert "stripe" in table and "offboarded" in table
    # A new secret value clears it.
    services.vault.replace_item(
        Actor.operator(),
        "payments",
        "stripe",
        ItemDraft(title="stripe", fields=[Field(id="", type="CONCEALED", label="k", value="w")]),
    )
    shown = client.get(f"/v1/vaults/{vault.id}/items/{item.id}", headers=admin).json()
    assert "rotationNeeded" not in shown
    got = cli("item", "get", "stripe", "--vault", "payments", "--json")
    assert json.loads(got.stdout)["rotation_needed"] is None
    assert json.loads(cli("vault", "report", "--json").stdout) == []


def test_offboarding_on_one_node_is_honoured_by_another(
    db: Database, settings: Settings, installed: InitResult
) -> None:
    """The identity provider talks to node A; a PEP asks node B. Node B hears of the
    cut-off (NOTIFY on PostgreSQL, the log on SQLite) and refuses the delegated tokens."""
    import httpx

    from tests.conftest import serve
    from tests.respond._waiting import wait_for

    second = Database(settings.resolved_database_url)
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    try:
        with (
            serve(create_app(settings, database=db)) as node_a,
            serve(create_app(settings, database=second)) as node_b,
            httpx.Client(base_url=node_a.url) as a,
            httpx.Client(base_url=node_b.url) as b,
        ):
            with db.unit_of_work() as uow:
                holder = identity.create(uow, Actor.operator(), kind="service", name="scim-idp")
                _, scim_token = identity.issue_api_token(
                    uow, Actor.operator(), holder, purpose="scim", scopes=["scim:write"]
                )
            scim = {"Authorization": f"Bearer {scim_token}", "Content-Type": SCIM}
            alice = a.post(
                "/scim/v2/Users", json={"userName": "alice@example.com"}, headers=scim
            ).json()
            with db.unit_of_work() as uow:
                bots = [
                    identity.create(
                        uow, Actor.operator(), kind="agent", name=f"bot-{n}", owner=alice["id"]
                    ).id
                    for n in range(2)
                ]
            a.put(
                "/v1/policies/tools",
                json={"text": 'permit(principal, action == Limen::Action::"call", resource);'},
                headers=admin,
            ).raise_for_status()

            def token(credentials: tuple[str, str], **form: str) -> str:
                r = a.post(
                    "/oauth2/token",
                    data={"grant_type": "client_credentials", **form},
                    auth=credentials,
                )
                assert r.status_code == 200, r.text
                return r.json()["access_token"]

            human = token(_client(db, alice["id"]))
            delegated = [
                token(
                    _client(db, bot),
                    grant_type=EXCHANGE,
                    subject_token=human,
                    subject_token_type=ACCESS,
                )
                for bot in bots
            ]

            def decisions() -> list[bool]:
                return [
                    b.post(
                        "/access/v1/evaluation",
                        json={
                            "subject": {"type": "agent", "id": bot},
                            "action": {"name": "call"},
                            "resource": {"type": "tool", "id": "deploy"},
                            "context": {"token": t},
                        },
                        headers=admin,
                    ).json()["decision"]
                    for bot, t in zip(bots, delegated, strict=True)
                ]

            # Node B hears of the policy node A stored through the change feed (on SQLite,
            # by polling the shared file), a moment after node A answered.
            wait_for(lambda: decisions() == [True, True], seconds=5)
            assert a.delete(f"/scim/v2/Users/{alice['id']}", headers=scim).status_code == 204
            wait_for(lambda: decisions() == [False, False], seconds=5)
    finally:
        second.dispose()
