"""Response playbooks, end to end over HTTP: an alert suspends an agent at machine speed,
its tokens are refused, the blast-radius guard holds, and a dry run changes nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from limen import identity, tokens
from limen.api import create_app
from limen.audit import Actor
from limen.config import Settings
from limen.installation import InitResult
from limen.respond import ssf
from limen.store import Database
from tests.api.test_events_ingest import reporter_headers
from tests.api.test_metrics import _scrape, _value
from tests.api.test_ssf import Receiver, bearer, limen
from tests.detect.test_live import wait_alerts, wait_scored
from tests.respond._waiting import wait_for

PLAYBOOK = """\
description: contain agents that probe for rights
match:
  min_score: 0.6
  kinds: [agent]
  reasons: [refusals, new-resource]
actions: [suspend, notify]
"""


def probing(name: str, *, history: int = 40) -> tuple[list[dict], list[dict]]:
    """An agent's ordinary work, then a burst of refused requests for secrets."""
    start = datetime.now(UTC) - timedelta(minutes=7 * history + 5)

    def event(n: int, when: datetime, outcome: str, resource: str) -> dict[str, Any]:
        return {
            "occurred_at": when.isoformat(),
            "actor": {"name": name, "kind": "agent"},
            "action": "tool.call",
            "resource": {"type": "db", "id": resource},
            "outcome": outcome,
            "context": {"ip": "10.1.2.3", "tool": "sql", "session": f"s{n // 20}"},
        }

    ordinary = [
        event(n, start + timedelta(minutes=7 * n), "success", "analytics") for n in range(history)
    ]
    now = datetime.now(UTC) - timedelta(seconds=30)
    probe = [event(n, now + timedelta(seconds=n), "denied", f"secret-{n}") for n in range(12)]
    return ordinary, probe


def agent_with_token(cli: Any, name: str, owner: str) -> dict[str, str]:
    if cli("identity", "show", owner).exit_code != 0:
        assert cli("identity", "create", "--kind", "human", "--name", owner).exit_code == 0
    made = cli("identity", "create", "--kind", "agent", "--name", name, "--owner", owner)
    assert made.exit_code == 0, made.stderr
    issued = cli("token", "create", "--identity", name, "--scopes", "events:write", "--json")
    return {"Authorization": f"Bearer {json.loads(issued.stdout)['token']}"}


def wait_status(client: TestClient, headers: dict[str, str], name: str, status: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if client.get(f"/v1/identities/{name}", headers=headers).json()["status"] == status:
            return
        time.sleep(0.02)
    raise AssertionError(f"{name} is not {status}")


def test_a_playbook_suspends_a_probing_agent_and_its_tokens_are_refused(
    client: TestClient, admin_headers: dict[str, str], cli: Any, db: Database, tmp_path: Any
) -> None:
    gateway = reporter_headers(cli)
    bot = agent_with_token(cli, "fay-bot", "fay")
    ping = {
        "events": [
            {
                "occurred_at": "2026-12-01T00:00:00Z",
                "actor": {"name": "fay-bot"},
                "action": "self.check",
            }
        ]
    }
    assert client.post("/v1/events", json=ping, headers=bot).status_code == 201

    (tmp_path / "probing.yaml").write_text(PLAYBOOK)
    added = cli("playbook", "add", "contain-probing", str(tmp_path / "probing.yaml"), "--json")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["mode"] == "live"
    listed = client.get("/v1/playbooks", headers=admin_headers).json()["items"]
    assert [(p["name"], p["actions"]) for p in listed] == [
        ("contain-probing", ["suspend", "notify"])
    ]

    ordinary, probe = probing("fay-bot")
    ids = client.post("/v1/events", json={"events": ordinary}, headers=gateway).json()["ids"]
    wait_scored(db, ids)
    assert client.get("/v1/identities/fay-bot", headers=admin_headers).json()["status"] == "active"
    client.post("/v1/events", json={"events": probe}, headers=gateway)

    wait_status(client, admin_headers, "fay-bot", "suspended")
    (alert,) = wait_alerts(client, admin_headers)

    def both_runs() -> list[dict[str, Any]] | None:
        # The notification follows the suspension: wait for both to be in the log.
        items = client.get(
            "/v1/events", params={"action": "playbook.run"}, headers=admin_headers
        ).json()["items"]
        return items if len(items) >= 2 else None

    runs = wait_for(both_runs, seconds=15)
    assert [(e["context"]["action"], e["context"]["alert"]) for e in runs] == [
        ("suspend", alert["id"]),
        ("notify", alert["id"]),
    ]
    assert all(e["actor"]["name"] == "playbook:contain-probing" for e in runs)
    suspension = client.get(
        "/v1/events", params={"action": "identity.suspend"}, headers=admin_headers
    ).json()["items"]
    assert [e["actor"]["name"] for e in suspension] == ["playbook:contain-probing"]
    assert alert["id"] in suspension[0]["reason"]
    # The node that ran the playbook counts the containment.
    scrape = _scrape(client, admin_headers)
    assert _value(scrape, "limen_containments_total", via="playbook") == 1

    refused = client.post("/v1/events", json=ping, headers=bot)
    assert refused.status_code == 401

    tested = cli("playbook", "test", "contain-probing", "--alert", alert["id"], "--json")
    assert json.loads(tested.stdout)["would"] == ["suspend", "notify"]


@pytest.fixture
def guarded_client(settings: Settings, db: Database, installed: Any) -> Iterator[TestClient]:
    """An app whose playbooks may suspend one identity a minute."""
    tight = settings.model_copy(update={"playbook_suspensions_per_minute": 1})
    app = create_app(tight, database=db)
    with TestClient(app, base_url="http://limen.test", raise_server_exceptions=False) as test:
        yield test


def test_the_blast_radius_guard_holds_and_asks_a_person(
    guarded_client: TestClient, admin_headers: dict[str, str], cli: Any, db: Database
) -> None:
    client = guarded_client
    gateway = reporter_headers(cli)
    for name in ("gil-bot", "hal-bot", "ivy-bot"):
        agent_with_token(cli, name, "gil")
    put = client.put(
        "/v1/playbooks/contain-probing", json={"text": PLAYBOOK}, headers=admin_headers
    )
    assert put.status_code == 200, put.text
    dry = client.put(
        "/v1/playbooks/watch-probing",
        json={"text": PLAYBOOK, "mode": "dry-run"},
        headers=admin_headers,
    )
    assert dry.json()["mode"] == "dry-run"

    history: list[dict] = []
    attacks: list[dict] = []
    for name in ("gil-bot", "hal-bot", "ivy-bot"):
        ordinary, probe = probing(name)
        history += ordinary
        attacks += probe
    wait_scored(
        db, client.post("/v1/events", json={"events": history}, headers=gateway).json()["ids"]
    )
    sent = client.post("/v1/events", json={"events": attacks}, headers=gateway).json()["ids"]
    wait_scored(db, sent)
    alerts = wait_alerts(client, admin_headers, count=3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        held = client.get(
            "/v1/events", params={"action": "playbook.hold"}, headers=admin_headers
        ).json()["items"]
        if len(held) == 2:
            break
        time.sleep(0.05)

    statuses = {
        name: client.get(f"/v1/identities/{name}", headers=admin_headers).json()["status"]
        for name in ("gil-bot", "hal-bot", "ivy-bot")
    }
    assert sorted(statuses.values()) == ["active", "active", "suspended"]
    assert len(held) == 2
    assert all(e["outcome"] == "denied" and "blast-radius guard" in e["reason"] for e in held)
    asking = [
        a for a in client.get("/v1/alerts", headers=admin_headers).json()["items"] if a["note"]
    ]
    assert sorted(a["identity"]["name"] for a in asking) == sorted(
        name for name, status in statuses.items() if status == "active"
    )
    assert len(alerts) == 3
    # The dry run recorded what it would have done for each, and changed nothing.
    runs = client.get(
        "/v1/events", params={"action": "playbook.run"}, headers=admin_headers
    ).json()["items"]
    dry_runs = [e for e in runs if e["context"]["dry_run"]]
    assert {e["resource"]["name"] for e in dry_runs} == {"gil-bot", "hal-bot", "ivy-bot"}


def test_a_bad_playbook_is_refused_naming_the_field(
    client: TestClient, admin_headers: dict[str, str], cli: Any, tmp_path: Any
) -> None:
    bad = client.put(
        "/v1/playbooks/x",
        json={"text": "match: {min_score: 2}\nactions: [suspend]"},
        headers=admin_headers,
    )
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("match.min_score")
    unknown = client.put(
        "/v1/playbooks/x", json={"text": "actions: [delete-everyone]"}, headers=admin_headers
    )
    assert (
        "'delete-everyone' is not one of suspend, contain, revoke-tokens"
        in unknown.json()["detail"]
    )
    (tmp_path / "broken.yaml").write_text("actions: [suspend\n")
    broken = cli("playbook", "add", "x", str(tmp_path / "broken.yaml"))
    assert broken.exit_code != 0
    assert "not valid YAML" in broken.stderr
    assert client.get("/v1/playbooks/x", headers=admin_headers).status_code == 404


def test_playbooks_match_resources_and_revoke_or_refresh_tokens_without_suspending(
    client: TestClient, admin_headers: dict[str, str], cli: Any, db: Database, tmp_path: Any
) -> None:
    gateway = reporter_headers(cli)
    jo, kai = agent_with_token(cli, "jo-bot", "jo"), agent_with_token(cli, "kai-bot", "jo")
    books = {
        "refresh": "match: {identities: [jo-bot], resources: ['db:secret-*']}\n"
        "actions: [require-fresh-token]\n",
        "revoke": "match: {identities: [kai-bot], resources: ['db:secret-*']}\n"
        "actions: [revoke-tokens]\n",
        "elsewhere": "match: {resources: ['db:payroll-*']}\nactions: [suspend]\n",
    }
    for name, text in books.items():
        (tmp_path / f"{name}.yaml").write_text(text)
        added = cli("playbook", "add", name, str(tmp_path / f"{name}.yaml"))
        assert added.exit_code == 0, added.stderr
    ping = {"events": [{"occurred_at": "2026-12-01T00:00:00Z", "action": "self.check"}]}

    def pinged(headers: dict[str, str], name: str) -> int:
        body = {"events": [{**ping["events"][0], "actor": {"name": name}}]}
        return client.post("/v1/events", json=body, headers=headers).status_code

    assert pinged(jo, "jo-bot") == pinged(kai, "kai-bot") == 201
    history, attacks = [], []
    for name in ("jo-bot", "kai-bot"):
        ordinary, probe = probing(name)
        history += ordinary
        attacks += probe
    wait_scored(
        db, client.post("/v1/events", json={"events": history}, headers=gateway).json()["ids"]
    )
    client.post("/v1/events", json={"events": attacks}, headers=gateway)

    def cut_offs() -> list[dict[str, Any]] | None:
        items = client.get(
            "/v1/events", params={"action": "identity.cut_off"}, headers=admin_headers
        ).json()["items"]
        return items if len(items) >= 2 else None

    done = {e["resource"]["name"]: e for e in wait_for(cut_offs, seconds=15)}
    assert done["kai-bot"]["context"]["revoked_tokens"] == 1
    assert "revoked_tokens" not in done["jo-bot"]["context"]
    for name, headers in (("jo-bot", jo), ("kai-bot", kai)):
        shown = client.get(f"/v1/identities/{name}", headers=admin_headers).json()
        assert shown["status"] == "active"  # neither matched the suspending playbook
        assert pinged(headers, name) == 401  # the token it held is refused
        fresh = agent_token(cli, name)
        assert pinged(fresh, name) == 201  # a token obtained now works
    runs = client.get(
        "/v1/events", params={"action": "playbook.run"}, headers=admin_headers
    ).json()["items"]
    assert {(e["resource"]["name"], e["context"]["action"]) for e in runs} == {
        ("jo-bot", "require-fresh-token"),
        ("kai-bot", "revoke-tokens"),
    }


def agent_token(cli: Any, name: str) -> dict[str, str]:
    issued = cli("token", "create", "--identity", name, "--scopes", "events:write", "--json")
    assert issued.exit_code == 0, issued.stderr
    return {"Authorization": f"Bearer {json.loads(issued.stdout)['token']}"}


def test_playbooks_match_resources_the_operator_tagged(
    client: TestClient, admin_headers: dict[str, str], cli: Any, db: Database, tmp_path: Any
) -> None:
    gateway = reporter_headers(cli)
    agent_with_token(cli, "mo-bot", "mo")
    agent_with_token(cli, "ned-bot", "mo")
    for n in range(12):
        tagged = client.post(
            "/v1/resources/tag",
            json={"resource": f"db:secret-{n}", "tags": ["sensitive"]},
            headers=admin_headers,
        )
        assert tagged.status_code == 200, tagged.text
    (tmp_path / "sensitive.yaml").write_text(
        "match: {resource_tags: [sensitive]}\nactions: [notify]\n"
    )
    added = cli("playbook", "add", "watch-sensitive", str(tmp_path / "sensitive.yaml"), "--json")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["match"]["resource_tags"] == ["sensitive"]

    history, attacks = [], []
    for name in ("mo-bot", "ned-bot"):
        ordinary, probe = probing(name)
        if name == "ned-bot":  # the same probing, of resources nobody tagged
            for event in probe:
                event["resource"]["id"] = event["resource"]["id"].replace("secret", "scratch")
        history += ordinary
        attacks += probe
    wait_scored(
        db, client.post("/v1/events", json={"events": history}, headers=gateway).json()["ids"]
    )
    wait_scored(
        db, client.post("/v1/events", json={"events": attacks}, headers=gateway).json()["ids"]
    )
    alerts = {a["identity"]["name"]: a for a in wait_alerts(client, admin_headers, count=2)}
    assert set(alerts) == {"mo-bot", "ned-bot"}

    runs = wait_for(
        lambda: client.get(
            "/v1/events", params={"action": "playbook.run"}, headers=admin_headers
        ).json()["items"]
    )
    assert [(e["resource"]["name"], e["context"]["alert"]) for e in runs] == [
        ("mo-bot", alerts["mo-bot"]["id"])
    ]
    for name, matches in (("mo-bot", True), ("ned-bot", False)):
        tested = cli("playbook", "test", "watch-sensitive", "--alert", alerts[name]["id"], "--json")
        assert json.loads(tested.stdout)["matches"] is matches

    listed = cli("resource", "list", "--tag", "sensitive", "--json")
    assert len(json.loads(listed.stdout)["items"]) == 12
    bad = cli("resource", "tag", "payments-prod", "sensitive")
    assert bad.exit_code != 0 and "type:id" in bad.stderr
    missing = client.post(
        "/v1/resources/untag",
        json={"resource": "db:secret-0", "tags": ["pci"]},
        headers=admin_headers,
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    bad_tag = client.put(
        "/v1/playbooks/x",
        json={"text": "match: {resource_tags: [Not A Tag]}\nactions: [notify]"},
        headers=admin_headers,
    )
    assert bad_tag.status_code == 422
    assert bad_tag.json()["detail"].startswith("match.resource_tags")


@pytest.fixture
def receiver_client(db: Database, installed: InitResult) -> tuple[str, str]:
    """A Shared Signals receiver's OAuth client (client id, secret)."""
    with db.unit_of_work() as uow:
        soc = identity.create(uow, Actor.system("test"), kind="service", name="soc")
        client, secret = tokens.register_client(
            uow, Actor.system("test"), soc, scopes=["ssf:manage"]
        )
    assert secret is not None
    return client.client_id, secret


NOTIFY_SSF = """\
description: tell the receivers when an agent probes for rights
match: {min_score: 0.6, kinds: [agent]}
actions: [notify]
ssf: risk-level-change
"""


def test_notify_sends_a_risk_level_change_set_to_shared_signals_receivers(
    db: Database,
    settings: Settings,
    receiver_client: tuple[str, str],
    installed: InitResult,
    cli: Any,
    tmp_path: Any,
) -> None:
    gateway = reporter_headers(cli)
    agent_with_token(cli, "ola-bot", "ola")
    ola_bot = json.loads(cli("identity", "show", "ola-bot", "--json").stdout)["id"]
    (tmp_path / "tell.yaml").write_text(NOTIFY_SSF)
    assert cli("playbook", "add", "tell-receivers", str(tmp_path / "tell.yaml")).exit_code == 0
    # Without ssf, notify sends no SET: the receiver gets one per alert, not two.
    (tmp_path / "log.yaml").write_text("match: {kinds: [agent]}\nactions: [notify]\n")
    assert cli("playbook", "add", "log-only", str(tmp_path / "log.yaml")).exit_code == 0
    (tmp_path / "x.yaml").write_text("actions: [suspend]\nssf: risk-level-change\n")
    refused = cli("playbook", "add", "x", str(tmp_path / "x.yaml"))
    assert refused.exit_code != 0 and "add notify to actions" in refused.stderr

    with limen(settings, db) as url, Receiver(f"{url}/.well-known/jwks.json") as receiver:
        http = httpx.Client(base_url=url, headers=bearer(url, receiver_client))
        stream = http.post(
            "/ssf/streams",
            json={
                "delivery": {"method": ssf.PUSH, "endpoint_url": receiver.url},
                "events_requested": [ssf.RISK_LEVEL_CHANGE],
            },
        ).json()
        assert stream["events_delivered"] == [ssf.RISK_LEVEL_CHANGE]
        ordinary, probe = probing("ola-bot")
        sent = httpx.post(f"{url}/v1/events", json={"events": ordinary}, headers=gateway)
        wait_scored(db, sent.json()["ids"])
        httpx.post(f"{url}/v1/events", json={"events": probe}, headers=gateway)

        wait_for(lambda: receiver.received)
        (event, header, claims), *more = receiver.events()
        assert more == []
        assert event == ssf.RISK_LEVEL_CHANGE
        assert header["typ"] == "secevent+jwt"
        assert claims["sub_id"] == {"format": "iss_sub", "iss": url, "sub": ola_bot}
        payload = claims["events"][ssf.RISK_LEVEL_CHANGE]
        assert payload["principal"] == "USER"
        assert payload["current_level"] in ("MEDIUM", "HIGH")
        assert "refusals" in payload["risk_reason"]
        assert payload["initiating_entity"] == "system"
        admin = {"Authorization": f"Bearer {installed.admin_token}"}
        runs = http.get("/v1/events", params={"action": "playbook.run"}, headers=admin).json()[
            "items"
        ]
        told = [e for e in runs if e["context"].get("ssf")]
        assert [e["id"] for e in told] == [claims["txn"]]
        assert told[0]["actor"]["name"] == "playbook:tell-receivers"
        assert receiver.rejected == 0
