"""Push sinks and Events-API feed tokens over HTTP, as ``limen sink …`` and
``limen events-token create`` do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from limen.api import create_app
from limen.audit import link_pending
from limen.config import Settings
from limen.store import Database
from tests.audit.test_sinks import Receiver
from tests.respond._waiting import wait_for


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests' receivers listen on loopback, which an operator has to allow."""
    return settings.model_copy(update={"sink_allowed_hosts": "127.0.0.1, siem.example"})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_add_list_deliver_and_remove_a_webhook_sink(
    client: TestClient, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    made = client.post(
        "/v1/sinks",
        json={"name": "siem", "kind": "webhook", "target": receiver.url},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    secret = made.json()["secret"]
    receiver.secret = secret.encode()

    services: Any = client.app.state.services  # type: ignore[attr-defined]
    link_pending(services.db, services.audit_keys.chain)
    delivered = client.post("/v1/sinks/deliver", headers=admin_headers)
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["failing"] == []
    # The node's own audit worker delivers what is due too (every 0.25 s), so either may
    # have sent it: the receiver gets it once, and the sink counts what the receiver got.
    wait_for(lambda: "audit.sink.create" in [e["action"] for e in receiver.events])
    assert [e["action"] for e in receiver.events].count("audit.sink.create") == 1

    def shown() -> dict[str, Any]:
        return client.get("/v1/sinks/siem", headers=admin_headers).json()

    wait_for(lambda: shown()["delivered_count"] == len(receiver.events))
    listed = client.get("/v1/sinks", headers=admin_headers)
    assert [s["name"] for s in listed.json()["items"]] == ["siem"]
    assert secret not in listed.text + str(shown())

    assert client.delete("/v1/sinks/siem", headers=admin_headers).status_code == 204
    assert client.get("/v1/sinks/siem", headers=admin_headers).status_code == 404


def test_a_file_sink_is_only_added_on_the_server_host(
    client: TestClient, admin_headers: dict[str, str], tmp_path: Any
) -> None:
    refused = client.post(
        "/v1/sinks",
        json={"name": "disk", "kind": "jsonl", "target": str(tmp_path / "x.jsonl")},
        headers=admin_headers,
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert not (tmp_path / "x.jsonl").exists()
    twice = {"name": "hook", "kind": "webhook", "target": "https://siem.example/in"}
    assert client.post("/v1/sinks", json=twice, headers=admin_headers).status_code == 201
    again = client.post("/v1/sinks", json=twice, headers=admin_headers)
    assert again.status_code == 409 and again.json()["code"] == "sink-exists"
    no_url = {"name": "n", "kind": "nats", "target": "https://x"}
    assert client.post("/v1/sinks", json=no_url, headers=admin_headers).status_code == 422


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("webhook", "http://127.0.0.1:6379/"),
        ("webhook", "http://169.254.169.254/latest/meta-data/"),
        ("webhook", "https://localhost/in"),
        ("webhook", "http://[::1]:8270/v1/identities"),
        ("webhook", "http://10.0.0.5/hook"),
        ("nats", "nats://192.168.1.10:4222"),
    ],
)
def test_a_sink_added_over_http_may_not_point_inside_the_network(
    settings: Settings, db: Database, admin_headers: dict[str, str], kind: str, target: str
) -> None:
    """Without LIMEN_SINK_ALLOWED_HOSTS, an admin cannot make the server send the audit
    trail (or probe) a loopback, link-local or private address: 422, nothing added."""
    plain = settings.model_copy(update={"sink_allowed_hosts": None})
    with TestClient(create_app(plain, database=db), base_url="http://limen.test") as client:
        body: dict[str, Any] = {"name": "inside", "kind": kind, "target": target}
        if kind == "nats":
            body["subject"] = "limen.audit"
        refused = client.post("/v1/sinks", json=body, headers=admin_headers)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "LIMEN_SINK_ALLOWED_HOSTS" in refused.json()["detail"]
        assert client.get("/v1/sinks", headers=admin_headers).json()["items"] == []


def test_an_events_token_reads_only_its_feeds(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    made = client.post(
        "/v1/events-tokens",
        json={"features": ["auditevents"], "name": "splunk", "expires_in_days": 30},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["features"] == ["auditevents"] and body["expires_at"] is not None
    feed = {"Authorization": f"Bearer {body['token']}"}
    assert client.post("/api/v2/auditevents", json={"limit": 1}, headers=feed).status_code == 200
    assert client.post("/api/v2/itemusages", json={"limit": 1}, headers=feed).status_code in (
        401,
        403,
    )
    listed = client.get("/v1/tokens?identity=splunk", headers=admin_headers).json()["items"]
    assert [t["id"] for t in listed] == [body["id"]]
    bad = client.post("/v1/events-tokens", json={"features": ["secrets"]}, headers=admin_headers)
    assert bad.status_code == 422, bad.text
