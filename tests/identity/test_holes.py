"""Issue #16's holes in the containment promise, each found by trying it, each over real
HTTP against a live server: every one of these failed before the one status view and the
one guard."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import sqlalchemy as sa

from limen.audit import Actor
from limen.installation import InitResult
from limen.store import Database
from limen.store.models import Event
from tests.oauth_factories import Client


def _admin(installed: InitResult) -> dict[str, str]:
    return {"Authorization": f"Bearer {installed.admin_token}"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _grant(url: str, c: Client, **form: str) -> httpx.Response:
    assert c.secret is not None
    return httpx.post(
        f"{url}/oauth2/token",
        data={"grant_type": "client_credentials", **form},
        auth=(c.client_id, c.secret),
    )


def _events(db: Database, action: str) -> list[Event]:
    with db.unit_of_work(readonly=True) as uow:
        return list(uow.session.scalars(sa.select(Event).where(Event.action == action)))


def test_1_no_jwt_issued_before_a_suspension_works_again_and_any_can_be_revoked(
    live_server: Any,
    installed: InitResult,
    make_identity: Any,
    make_client: Any,
    db: Database,
) -> None:
    url, admin = live_server.url, _admin(installed)
    make_identity("carol", roles=["viewer"])
    make_identity("carol-bot", kind="agent", owner="carol")
    make_identity("nightly", kind="service")
    bot = make_client("carol-bot", ["identities:read"])
    job = make_client("nightly", ["identities:read"])

    def works(token: str) -> bool:
        return httpx.get(f"{url}/v1/identities", headers=_bearer(token)).status_code == 200

    # Directly, by containment (which revokes opaque tokens), and by cascade.
    direct = _grant(url, job).json()["access_token"]
    cascaded = _grant(url, bot).json()["access_token"]
    assert works(direct) and works(cascaded)
    httpx.post(f"{url}/v1/identities/nightly/suspend", headers=admin)
    httpx.post(f"{url}/v1/identities/carol/suspend", json={"cascade": True}, headers=admin)
    assert not works(direct) and not works(cascaded)
    httpx.post(f"{url}/v1/identities/nightly/reactivate", headers=admin)
    httpx.post(f"{url}/v1/identities/carol/reactivate", json={"cascade": True}, headers=admin)
    assert not works(direct) and not works(cascaded)
    assert works(_grant(url, job).json()["access_token"])  # new tokens work
    assert works(_grant(url, bot).json()["access_token"])

    # A suspended identity's token can still be revoked, and the revocation is recorded.
    doomed = _grant(url, job).json()["access_token"]
    httpx.post(f"{url}/v1/identities/nightly/suspend", headers=admin)
    revoked = httpx.post(f"{url}/oauth2/revoke", data={"token": doomed}, headers=admin)
    assert revoked.status_code == 200
    recorded = [e for e in _events(db, "token.revoke") if e.resource_type == "access_token"]
    assert len(recorded) == 1


def test_2_an_opaque_token_dies_with_its_owner_even_without_cascade(
    live_server: Any, installed: InitResult, make_identity: Any, db: Database
) -> None:
    from limen import identity

    url, admin = live_server.url, _admin(installed)
    make_identity("dave", roles=["viewer"])
    make_identity("dave-svc", kind="service", owner="dave")
    with db.unit_of_work() as uow:
        held_by = identity.get(uow.session, "dave-svc")
        _, raw = identity.issue_api_token(
            uow,
            Actor.system("test"),
            held_by,
            purpose="service-account",
            scopes=["identities:read"],
        )
    assert httpx.get(f"{url}/v1/identities", headers=_bearer(raw)).status_code == 200
    httpx.post(f"{url}/v1/identities/dave/suspend", headers=admin)  # no cascade
    assert httpx.get(f"{url}/v1/identities", headers=_bearer(raw)).status_code == 401


def test_3_the_token_endpoint_refuses_a_machine_whose_owner_is_suspended(
    live_server: Any, installed: InitResult, make_identity: Any, make_client: Any
) -> None:
    url, admin = live_server.url, _admin(installed)
    make_identity("erin")
    make_identity("erin-bot", kind="agent", owner="erin")
    bot = make_client("erin-bot", ["tools:call"])
    assert _grant(url, bot).status_code == 200
    httpx.post(f"{url}/v1/identities/erin/suspend", headers=admin)  # no cascade
    refused = _grant(url, bot)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_4_only_a_partner_registration_spares_an_identity_from_the_kill_switch(
    live_server: Any, installed: InitResult, cli: Any
) -> None:
    url, admin = live_server.url, _admin(installed)
    impostor = httpx.post(
        f"{url}/v1/identities",
        json={"kind": "service", "name": "not-a-soar", "attributes": {"partner": True}},
        headers=admin,
    )
    assert impostor.status_code == 201
    registered = cli("partner", "create", "real-soar", "--scopes", "users:read", "--json")
    assert registered.exit_code == 0, registered.stderr
    engaged = httpx.post(
        f"{url}/v1/killswitch/engage", json={"kind": "service", "reason": "drill"}, headers=admin
    )
    assert engaged.status_code == 200, engaged.text
    assert impostor.json()["id"] in engaged.json()["suspended"]
    partner_id = json.loads(registered.stdout)["identity_id"]
    assert partner_id not in engaged.json()["suspended"]


def test_5_an_agent_never_exceeds_its_owner_on_limens_own_api(
    live_server: Any, installed: InitResult, make_identity: Any, make_client: Any, db: Database
) -> None:
    url = live_server.url
    make_identity("frank")  # no role: he may not create identities
    make_identity("frank-bot", kind="agent", owner="frank")
    bot = make_client("frank-bot", ["*"])
    token = _grant(url, bot).json()["access_token"]
    attempt = httpx.post(
        f"{url}/v1/identities",
        json={"kind": "human", "name": "mallory", "roles": ["admin"]},
        headers=_bearer(token),
    )
    assert attempt.status_code == 403
    assert "frank" in attempt.json()["detail"]
    denied = [e for e in _events(db, "identity.create") if e.outcome == "denied"]
    assert [e.actor_name for e in denied] == ["frank-bot"]
    names = httpx.get(f"{url}/v1/identities", headers=_admin(installed)).json()["items"]
    assert "mallory" not in {i["name"] for i in names}


def test_6_the_issuer_comes_from_configuration_never_from_the_host_header(
    live_server: Any, installed: InitResult, make_identity: Any, make_client: Any, settings: Any
) -> None:
    url = live_server.url
    make_identity("svc-6", kind="service")
    c = make_client("svc-6", ["identities:read"])
    forged = {"Host": "attacker.example"}
    meta = httpx.get(f"{url}/.well-known/oauth-authorization-server", headers=forged).json()
    assert meta["issuer"] == settings.resolved_public_url
    assert "attacker" not in json.dumps(meta)
    assert c.secret is not None
    token = httpx.post(
        f"{url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(c.client_id, c.secret),
        headers=forged,
    ).json()["access_token"]
    claims = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["iss"] == settings.resolved_public_url == claims["aud"]


def test_7_a_leaked_admin_token_can_be_revoked_and_tokens_are_first_class(
    live_server: Any, installed: InitResult, cli: Any
) -> None:
    url, admin = live_server.url, _admin(installed)
    issued = json.loads(cli("token", "create", "--identity", "admin", "--json").stdout)
    leaked = issued["token"]
    assert httpx.get(f"{url}/v1/identities", headers=_bearer(leaked)).status_code == 200
    listed = json.loads(cli("token", "list", "--json").stdout)["items"]
    assert issued["id"] in {t["id"] for t in listed}
    assert all("token" not in t for t in listed)  # never a value
    # Its holder (or any admin) revokes it the standard way, and it stops working at once.
    assert (
        httpx.post(f"{url}/oauth2/revoke", data={"token": leaked}, headers=admin).status_code == 200
    )
    assert httpx.get(f"{url}/v1/identities", headers=_bearer(leaked)).status_code == 401
    # Over the API too: issue, list, revoke.
    made = httpx.post(
        f"{url}/v1/tokens", json={"identity": "admin", "expires_in": "8h"}, headers=admin
    )
    assert made.status_code == 201, made.text
    other = made.json()
    assert httpx.get(f"{url}/v1/identities", headers=_bearer(other["token"])).status_code == 200
    assert httpx.delete(f"{url}/v1/tokens/{other['id']}", headers=admin).status_code == 204
    assert httpx.get(f"{url}/v1/identities", headers=_bearer(other["token"])).status_code == 401


def test_8_push_targets_may_not_be_private_and_long_polls_hold_no_worker(
    live_server: Any, installed: InitResult, make_identity: Any, make_client: Any
) -> None:
    url, admin = live_server.url, _admin(installed)
    make_identity("siem-8", kind="service")
    receiver = make_client("siem-8", ["ssf:manage"])
    headers = _bearer(_grant(url, receiver).json()["access_token"])
    for target in (
        "http://127.0.0.1:9/events",
        "http://169.254.169.254/latest",
        "http://10.0.0.8/",
    ):
        refused = httpx.post(
            f"{url}/ssf/streams",
            json={"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": target}},
            headers=headers,
        )
        assert refused.status_code == 400, (target, refused.text)
        assert "LIMEN_SSF_ALLOWED_HOSTS" in refused.text
    stream = httpx.post(f"{url}/ssf/streams", json={}, headers=headers).json()
    poll_url = stream["delivery"]["endpoint_url"].replace(
        stream["delivery"]["endpoint_url"].split("/ssf/")[0], url
    )

    async def scenario() -> tuple[bool, int, bool]:
        async with httpx.AsyncClient(timeout=30) as http:
            waiting = [
                asyncio.create_task(http.post(poll_url, json={}, headers=headers))
                for _ in range(45)
            ]
            await asyncio.sleep(0.5)  # let them all arrive and wait
            listed = await http.get(f"{url}/v1/identities", headers=admin)
            answered_while_polls_wait = not all(task.done() for task in waiting)
            done = await asyncio.gather(*waiting)
            early = sum(1 for r in done if r.status_code == 200 and not r.json()["sets"])
            return answered_while_polls_wait, early, listed.status_code == 200

    while_waiting, answered, listed = asyncio.run(scenario())
    assert listed and while_waiting  # the other request did not queue behind the polls
    assert answered == 45


def test_9_secret_ages_are_bounded_and_the_report_keeps_working(
    live_server: Any, installed: InitResult, cli: Any
) -> None:
    url, admin = live_server.url, _admin(installed)
    for days in (2**63, 10**9, 0):
        r = httpx.post(
            f"{url}/v1/vaults", json={"name": f"v{days}", "maxSecretAgeDays": days}, headers=admin
        )
        assert r.status_code in (400, 422), (days, r.text)
        assert r.status_code != 500
    big = cli("vault", "create", "huge", "--max-age", "999999999d")
    assert big.exit_code == 2 and "hundred years" in big.stderr
    assert cli("vault", "create", "ok", "--max-age", "90d").exit_code == 0
    assert cli("vault", "report", "--json").exit_code == 0


def test_10_a_secret_pasted_as_client_id_stays_out_of_the_trail(
    live_server: Any, installed: InitResult, db: Database
) -> None:
    pasted = "limen_cs_" + "S3cr3t" * 6
    r = httpx.post(
        f"{live_server.url}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": pasted, "client_secret": "x"},
    )
    assert r.status_code == 401
    refusals = _events(db, "oauth.client.authenticate")
    assert refusals and all(
        pasted not in json.dumps([e.resource_id, e.actor_name, e.context, e.reason])
        for e in refusals
    )


def test_unicode_letters_are_letters(live_server: Any, installed: InitResult) -> None:
    created = httpx.post(
        f"{live_server.url}/v1/identities",
        json={"kind": "human", "name": "José Ñúñez", "email": "jose@example.com"},
        headers=_admin(installed),
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "José Ñúñez"
    bad = httpx.post(
        f"{live_server.url}/v1/identities",
        json={"kind": "human", "name": "-José"},
        headers=_admin(installed),
    )
    assert bad.status_code == 422 and "letters (of any script)" in bad.json()["detail"]
