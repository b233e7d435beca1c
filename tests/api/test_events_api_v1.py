"""The Events API as 1Password's own example collectors and the Elastic integration call it.

1Password documents that the V1 endpoints remain supported, and its example scripts
(https://github.com/1Password/events-api-generic) call ``/api/v1/signinattempts``,
``/api/v1/itemusages`` and ``/api/v1/auditevents``; the Elastic integration
(https://github.com/1Password/events-api-elastic) reads the fields listed below. The
request here is sent as those scripts send it: a JSON text, whatever the Content-Type.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient

from limen.audit import Actor, Outcome, record
from limen.audit.feed_tokens import issue_events_token
from limen.store import Database

BERLIN = {"country": "DE", "region": "BE", "city": "Berlin", "latitude": 52.52, "longitude": 13.4}
UUID = re.compile(r"^[a-z0-9]{26}$|^[A-Z0-9]{26}$")

# What the Elastic integration's mappings read from each feed (dotted paths).
ELASTIC_SIGNINATTEMPTS = (
    "uuid",
    "session_uuid",
    "timestamp",
    "category",
    "type",
    "country",
    "target_user.uuid",
    "target_user.name",
    "client.app_name",
    "client.platform_name",
    "client.ip_address",
)
ELASTIC_ITEMUSAGES = (
    "uuid",
    "timestamp",
    "used_version",
    "vault_uuid",
    "item_uuid",
    "action",
    "user.uuid",
    "user.name",
    "client.app_name",
    "client.ip_address",
)
ELASTIC_AUDITEVENTS = (
    "uuid",
    "timestamp",
    "actor_uuid",
    "action",
    "object_type",
    "object_uuid",
    "session.ip",
    "session.login_time",
)


def _get(item: dict[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        value = value[part]
    return value


def _token(db: Database) -> str:
    with db.unit_of_work() as uow:
        _, raw = issue_events_token(
            uow, Actor.operator(), features=("auditevents", "itemusages", "signinattempts")
        )
    return raw


def _events(db: Database) -> None:
    agent = Actor(
        kind="agent",
        name="triage-bot",
        identity_id="a" * 26,
        token_id="t" * 26,
        context={"ip": "203.0.113.7", "geo": BERLIN, "user_agent": "curl/8.5"},
    )
    with db.unit_of_work() as uow:
        record(
            uow.session,
            agent,
            "vault.secret.read",
            resource_type="vault_item",
            resource_id="i" * 26,
            context={"vault_id": "v" * 26, "version": 2},
        )
        record(
            uow.session,
            agent,
            "oauth.client.authenticate",
            resource_type="oauth_client",
            resource_id="c1",
            outcome=Outcome.DENIED,
            reason="bad client secret",
        )
        # An operator at the CLI: no identity behind it, no address.
        record(
            uow.session,
            Actor.operator(),
            "identity.suspend",
            resource_type="identity",
            resource_id="x" * 26,
        )


def test_the_example_collector_reads_every_v1_feed(
    client: TestClient, db: Database, installed: Any
) -> None:
    _events(db)
    token = _token(db)
    # As 1Password's example script does: a JSON text, no Content-Type of its own.
    headers = {"Authorization": f"Bearer {token}"}
    payload = json.dumps({"limit": 20, "start_time": "2000-01-01T00:00:00Z"})
    pages = {}
    for feed in ("signinattempts", "itemusages", "auditevents"):
        r = client.post(f"/api/v1/{feed}", content=payload, headers=headers)
        assert r.status_code == 200, r.text
        pages[feed] = r.json()
        assert set(pages[feed]) == {"items", "cursor", "has_more"}

    attempt = pages["signinattempts"]["items"][0]
    for path in ELASTIC_SIGNINATTEMPTS:
        assert _get(attempt, path) not in (None, ""), path
    assert attempt["country"] == "DE" and attempt["client"]["ip_address"] == "203.0.113.7"
    # 1Password's Location object, on every feed, from what the event knows.
    assert attempt["location"] == BERLIN
    assert "email" in attempt["target_user"]  # an agent has none: present, empty

    usage = pages["itemusages"]["items"][0]
    assert usage["location"] == BERLIN
    for path in ELASTIC_ITEMUSAGES:
        assert _get(usage, path) not in (None, ""), path

    audits = [i for i in pages["auditevents"]["items"] if i["action"] == "suspend"]
    assert len(audits) == 1
    # The operator at the CLI: nowhere Limen can name; no made-up coordinates.
    assert audits[0]["location"] == {
        "country": "",
        "region": "",
        "city": "",
        "latitude": None,
        "longitude": None,
    }
    for path in ELASTIC_AUDITEVENTS:
        assert _get(audits[0], path) not in (None, ""), path
    # The CLI operator is an id, the same one every time, not a name.
    assert UUID.match(audits[0]["actor_uuid"]), audits[0]["actor_uuid"]
    assert audits[0]["actor_uuid"] == audits[0]["actor_details"]["uuid"]
    assert audits[0]["actor_details"]["name"] not in audits[0]["actor_uuid"]
    assert audits[0]["session"]["ip"] == "127.0.0.1"  # done on the server's own host

    # Paging on with the cursor, as the example does.
    cursor = json.dumps({"cursor": pages["auditevents"]["cursor"]})
    r = client.post("/api/v1/auditevents", content=cursor, headers=headers)
    assert r.status_code == 200 and r.json()["has_more"] is False

    r = client.get("/api/auth/introspect", headers=headers)
    assert r.status_code == 200
    assert r.json()["features"] == ["auditevents", "itemusages", "signinattempts"]


def test_bad_requests_are_400_in_the_events_api_body(client: TestClient, db: Database) -> None:
    headers = {"Authorization": f"Bearer {_token(db)}"}
    for version in ("v1", "v2"):
        for body in ('{"cursor": "not-ours"}', '{"limit": 0}', '{"limit": "x"}', "{"):
            r = client.post(f"/api/{version}/auditevents", content=body, headers=headers)
            assert r.status_code == 400, (version, body, r.text)
            assert r.json()["Error"]["Message"]
