"""The live detector on a running app: events reported over HTTP are scored as they
commit, alerts are raised, handled over HTTP and the CLI, and a false-positive mark
teaches the detector."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from limen.detect.live import scored_through
from limen.store import Database
from limen.store.models import Event
from tests.api.test_events_ingest import reporter_headers


def wait_scored(db: Database, event_ids: list[str], timeout: float = 15.0) -> None:
    """Until every partition of the live detector has passed these events."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.unit_of_work(readonly=True) as uow:
            positions = list(
                uow.session.scalars(sa.select(Event.chain_pos).where(Event.id.in_(event_ids)))
            )
            done = scored_through(uow.session)
        if positions and None not in positions and max(positions) <= done:
            return
        time.sleep(0.05)
    raise AssertionError("the live detector did not score the events in time")


def wait_alerts(client: TestClient, headers: dict[str, str], count: int = 1) -> list[dict]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        items = client.get("/v1/alerts", headers=headers).json()["items"]
        if len(items) >= count:
            return items
        time.sleep(0.05)
    raise AssertionError("no alert was raised")


def agent_events(name: str, start: datetime, count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "occurred_at": (start + timedelta(minutes=7 * n)).isoformat(),
            "actor": {"name": name, "kind": "agent"},
            "action": "tool.call",
            "resource": {"type": "db", "id": "analytics"},
            "context": {"ip": "10.1.2.3", "tool": "sql", "session": f"s{n // 20}"},
            **extra,
        }
        for n in range(count)
    ]


def test_an_agent_acting_for_a_suspended_owner_raises_an_alert_that_people_handle(
    client: TestClient, admin_headers: dict[str, str], cli: Any, db: Database
) -> None:
    headers = reporter_headers(cli)
    client.post(
        "/v1/identities",
        json={"kind": "human", "name": "dana", "email": "dana@example.com"},
        headers=admin_headers,
    )
    client.post(
        "/v1/identities",
        json={"kind": "agent", "name": "dana-bot", "owner": "dana"},
        headers=admin_headers,
    )
    start = datetime.now(UTC) - timedelta(hours=6)
    history = client.post(
        "/v1/events", json={"events": agent_events("dana-bot", start, 40)}, headers=headers
    ).json()["ids"]
    wait_scored(db, history)
    assert client.get("/v1/alerts", headers=admin_headers).json()["items"] == []

    # dana leaves; her agent's token is still used by someone.
    cli("identity", "suspend", "dana", "--reason", "left the company")
    late = agent_events("dana-bot", datetime.now(UTC) - timedelta(seconds=5), 1)
    sent = client.post("/v1/events", json={"events": late}, headers=headers).json()["ids"]

    (alert,) = wait_alerts(client, admin_headers)
    assert alert["identity"]["name"] == "dana-bot"
    assert alert["status"] == "open"
    assert sent[0] in alert["events"]
    codes = [reason["code"] for reason in alert["reasons"]]
    assert codes[0] in ("owner-inactive", "actor-inactive"), codes
    assert "dana" in alert["reasons"][0]["text"]

    raised = client.get(
        "/v1/events", params={"action": "alert.raise"}, headers=admin_headers
    ).json()["items"]
    assert [e["context"]["alert"] for e in raised] == [alert["id"]]

    # Cedar sees the alert as the agent's risk (principal.risk), 0-100.
    risky = client.get("/v1/identities/dana-bot", headers=admin_headers).json()
    assert risky["attributes"]["risk"] == round(alert["score"] * 100)

    shown = cli("alert", "show", alert["id"], "--json")
    assert shown.exit_code == 0 and '"dana-bot"' in shown.stdout
    acked = client.post(
        f"/v1/alerts/{alert['id']}/acknowledge", json={"note": "looking"}, headers=admin_headers
    ).json()
    assert acked["status"] == "acknowledged" and acked["handled_by"] == "admin"
    resolved = cli("alert", "resolve", alert["id"], "--note", "contained", "--json")
    assert resolved.exit_code == 0, resolved.stderr
    assert '"resolved"' in resolved.stdout
    assert client.get("/v1/alerts?status=open", headers=admin_headers).json()["items"] == []
    calm = client.get("/v1/identities/dana-bot", headers=admin_headers).json()
    assert calm["attributes"]["risk"] == 0
    actions = [
        e["action"]
        for e in client.get(
            "/v1/events", params={"action": "alert.*"}, headers=admin_headers
        ).json()["items"]
    ]
    assert actions == ["alert.raise", "alert.acknowledge", "alert.resolve"]
    updates = client.get(
        "/v1/events",
        params={"action": "identity.update", "resource_id": alert["identity"]["id"]},
        headers=admin_headers,
    ).json()["items"]
    assert [e["actor"]["name"] for e in updates] == ["limen-detect", "limen-detect"]

    missing = client.get("/v1/alerts/nope", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "alert-not-found"
    assert cli("alert", "ack", "nope").exit_code != 0


def test_a_false_positive_mark_stops_the_repeat_alert(
    client: TestClient, admin_headers: dict[str, str], cli: Any, db: Database
) -> None:
    headers = reporter_headers(cli)
    client.post("/v1/identities", json={"kind": "human", "name": "eve"}, headers=admin_headers)
    client.post(
        "/v1/identities",
        json={"kind": "agent", "name": "eve-bot", "owner": "eve"},
        headers=admin_headers,
    )
    cli("identity", "suspend", "eve", "--reason", "on leave")
    start = datetime.now(UTC) - timedelta(minutes=10)
    first = client.post(
        "/v1/events", json={"events": agent_events("eve-bot", start, 1)}, headers=headers
    ).json()["ids"]
    (alert,) = wait_alerts(client, admin_headers)
    assert first[0] in alert["events"]

    # On leave, but the agent's scheduled work is expected to go on.
    marked = cli("alert", "false-positive", alert["id"], "--note", "scheduled job", "--json")
    assert marked.exit_code == 0, marked.stderr
    assert '"false_positive"' in marked.stdout
    again = client.post(
        "/v1/events",
        json={"events": agent_events("eve-bot", datetime.now(UTC) - timedelta(seconds=3), 1)},
        headers=headers,
    ).json()["ids"]
    wait_scored(db, again)
    alerts = client.get("/v1/alerts", headers=admin_headers).json()["items"]
    assert [a["id"] for a in alerts] == [alert["id"]]
    assert again[0] not in alerts[0]["events"]
    # A false positive stays one.
    reopened = client.post(f"/v1/alerts/{alert['id']}/resolve", headers=admin_headers)
    assert reopened.status_code == 422


def test_ready_says_when_every_identity_is_scored(client: TestClient) -> None:
    deadline = time.monotonic() + 15
    while not (body := client.get("/ready").json())["detect"]["scoring"]:
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
    assert body["detect"] == {"scoring": True, "partitions": 64, "held": 64}
    assert body["status"] == "ready"
