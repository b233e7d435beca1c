"""1Password's own Events API collectors, as data, against Limen: each example script's
requests (V1 as written, and V2 as 1Password's reference documents the same bodies) and
the Elastic integration's requests and the fields its ingest pipelines read.

The requests and field lists are in ``conformance/onepassword_events.json``, each with
the repository, file and commit it was written down from. A script or a mapping that
stops working against Limen fails here.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from limen import identity
from limen.audit import Actor, Outcome, record
from limen.audit.chain import link_pending
from limen.audit.feed_tokens import issue_events_token
from limen.store import Database

DATA = json.loads((Path(__file__).parent / "conformance" / "onepassword_events.json").read_text())
EMAIL = "alice@example.com"
ELSEWHERE = timezone(timedelta(hours=2))  # the collector's local time is not UTC
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


def _start_time(fmt: str, now: datetime) -> str:
    """``start_time`` 24 hours back, as each script writes it."""
    local = (now - timedelta(hours=24)).astimezone(ELSEWHERE).replace(microsecond=0)
    if fmt in ("python-isoformat-local-offset", "go-rfc3339-local"):
        return local.isoformat()  # 2026-01-01T14:00:00+02:00
    if fmt == "js-iso-utc-seconds":  # toISOString() without milliseconds
        return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt in ("ruby-local-time-as-z", "php-local-time-as-z"):
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")  # local wall time labelled Z
    raise AssertionError(f"unknown start_time format {fmt}")


def _get(item: dict[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        assert isinstance(value, dict) and part in value, path
        value = value[part]
    return value


@pytest.fixture
def token(client: TestClient, db: Database, installed: Any) -> str:
    """What alice did today, linked into the chain (as the server's chainer does in the
    background: the feeds serve linked events), and an Events API token for all three."""
    with db.unit_of_work() as uow:
        alice = identity.create(uow, Actor.operator(), kind="human", name="alice", email=EMAIL)
        bot = identity.create(uow, Actor.operator(), kind="agent", name="bot", owner="alice")
    context = {"ip": "203.0.113.7", "user_agent": BROWSER}
    her = Actor(
        kind="human", name="alice", identity_id=alice.id, token_id="t" * 26, context=context
    )
    with db.unit_of_work() as uow:
        session = uow.session
        record(session, her, "oauth.client.authenticate", resource_type="oauth_client")
        record(
            session,
            her,
            "oauth.client.authenticate",
            resource_type="oauth_client",
            outcome=Outcome.DENIED,
            reason="bad client secret",
        )
        record(
            session,
            her,
            "vault.secret.read",
            resource_type="vault_item",
            resource_id="i" * 26,
            context={"vault_id": "v" * 26, "version": 3},
        )
        record(session, her, "identity.suspend", resource_type="identity", resource_id=bot.id)
    keys = client.app.state.services.audit_keys  # type: ignore[attr-defined]
    link_pending(db, keys.chain)
    with db.unit_of_work() as uow:
        _, raw = issue_events_token(
            uow, Actor.operator(), features=("auditevents", "itemusages", "signinattempts")
        )
    return raw


@pytest.mark.parametrize("script", DATA["scripts"], ids=lambda s: s["script"])
def test_each_example_script_reads_v1_and_v2(
    client: TestClient, token: str, script: dict[str, Any]
) -> None:
    start_time = _start_time(script["start_time"], datetime.now(UTC))
    for request in script["requests"]:
        headers = {k: v.replace("{token}", token) for k, v in request["headers"].items()}
        body = request["body"].replace("{start_time}", start_time)
        for path in (request["path"], request["path"].replace("/api/v1/", "/api/v2/")):
            r = client.request(request["method"], path, headers=headers, content=body)
            assert r.status_code == 200, (script["script"], path, body, r.text)
            page = r.json()
            assert set(page) == {"items", "cursor", "has_more"}, path
            assert page["items"], (script["script"], path, start_time)
            # The continuation the scripts show in a comment.
            more = json.dumps({"cursor": page["cursor"]})
            r = client.request(request["method"], path, headers=headers, content=more)
            assert r.status_code == 200 and r.json()["items"] == [], (path, r.text)


def test_the_elastic_integration_finds_every_field_it_reads(client: TestClient, token: str) -> None:
    elastic = DATA["elastic"]
    headers = {k: v.replace("{token}", token) for k, v in elastic["headers"].items()}
    for feed, mapping in elastic["feeds"].items():
        items: list[dict[str, Any]] = []
        body: dict[str, Any] = {"limit": elastic["limit"]}
        for _ in range(10):  # httpjson pages on with the cursor, limit deleted
            r = client.post(f"/api/v1/{feed}", headers=headers, content=json.dumps(body))
            assert r.status_code == 200, (feed, r.text)
            items += r.json()["items"]
            if not r.json()["has_more"]:
                break
            body = {"cursor": r.json()["cursor"]}
        hers = [i for i in items if _actor(i)["name"] == "alice"]
        assert hers, feed
        for item in items:
            for path in mapping["reads"]:
                _get(item, path)  # every field the pipeline renames is there
            datetime.fromisoformat(_get(item, mapping["timestamp"]))  # ISO 8601
            ipaddress.ip_address(_get(item, mapping["ip"]))  # geoip needs an address
        for item in hers:
            for path in mapping["reads"]:
                if path in elastic["not_known_to_limen"]:
                    continue
                assert _get(item, path) not in (None, ""), (feed, path)
            assert _actor(item)["email"] == EMAIL, feed
            if "client" in item:  # what Elastic maps to host.os
                assert (item["client"]["os_name"], item["client"]["os_version"]) == (
                    "macOS",
                    "10.15.7",
                )


def _actor(item: dict[str, Any]) -> dict[str, Any]:
    """Who acted, under each feed's own name for it."""
    return item.get("actor_details") or item.get("user") or item["target_user"]
