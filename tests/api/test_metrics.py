"""``GET /metrics``: Prometheus text that moves as the node works, scraped by whom it should be."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from limen import identity
from limen.audit import Actor
from limen.audit.sinks import add_sink
from limen.config import Settings
from limen.store import Database
from tests.oauth_factories import grant, make_client, make_identity
from tests.respond._waiting import wait_for

__all__ = ["make_client", "make_identity"]

DECISION = {
    "subject": {"type": "identity", "id": "alice"},
    "action": {"name": "call"},
    "resource": {"type": "tool", "id": "deploy"},
}


def _scrape(client: TestClient, headers: dict[str, str]) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(scrape: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def test_counters_move_with_requests_decisions_grants_and_containments(
    client: TestClient,
    admin_headers: dict[str, str],
    db: Database,
    make_identity: Any,
    make_client: Any,
) -> None:
    make_identity("alice")
    make_identity("bob")
    make_identity("ci", kind="service", owner="alice")
    ci = make_client("ci", ["access:evaluate"])
    services = client.app.state.services  # type: ignore[attr-defined]
    add_sink(
        db,
        services.audit_keys,
        Actor.operator(),
        name="siem",
        kind="webhook",
        target="http://127.0.0.1:9/nothing-listens",
    )
    before = _scrape(client, admin_headers)

    for _ in range(3):
        r = client.post("/access/v1/evaluation", json=DECISION, headers=admin_headers)
        assert r.status_code == 200 and r.json()["decision"] is False
    assert grant(client, ci).status_code == 200
    assert client.post("/v1/identities/bob/suspend", json={}, headers=admin_headers).is_success
    assert client.get("/no/such/path", headers=admin_headers).status_code == 404
    assert client.get("/v1/events", headers=admin_headers).status_code == 200  # links the chain
    after = _scrape(client, admin_headers)

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    route = {"method": "POST", "route": "/access/v1/evaluation", "status": "200"}
    assert moved("limen_http_requests_total", **route) == 3
    assert moved("limen_http_requests_total", method="GET", route="/metrics", status="200") == 1
    # A path no route matched is one series, not one per path.
    assert moved("limen_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert not any("/no/such/path" in str(labels) for _, labels in after)
    assert moved("limen_decisions_total", outcome="deny") == 3
    assert moved("limen_decisions_total", outcome="permit") == 0
    assert moved("limen_decision_seconds_count") == 3
    assert moved("limen_decision_seconds_sum") > 0
    grants = {"grant_type": "client_credentials", "surface": "oauth"}
    assert moved("limen_token_grants_total", **grants) == 1
    assert moved("limen_containments_total", via="suspend") == 1
    # The decisions' events went through the group-committing writer.
    assert moved("limen_event_writer_commit_seconds_count") >= 1
    assert _value(after, "limen_event_writer_queue_depth") >= 0
    head = _value(after, "limen_audit_chain_head_position")
    assert head > _value(before, "limen_audit_chain_head_position")
    # Nothing listens on the sink's port: it lags by every linked event.
    assert _value(after, "limen_audit_sink_lag_events", sink="siem") == head


def test_containments_made_by_a_command_on_the_host_are_counted_by_the_server(
    client: TestClient,
    admin_headers: dict[str, str],
    settings: Settings,
    make_identity: Any,
) -> None:
    """``limen identity suspend`` is another process: the server counts the suspension
    from the change it hears of (the feed), once, with its cascade."""
    make_identity("carol")
    make_identity("carol-bot", kind="agent", owner="carol")
    before = _scrape(client, admin_headers)
    env = {**os.environ, "LIMEN_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["LIMEN_DATABASE_URL"] = settings.database_url

    def limen(*args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "limen", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    limen("identity", "suspend", "carol", "--cascade", "--reason", "test")

    def counted() -> float:
        after = _scrape(client, admin_headers)
        return _value(after, "limen_containments_total", via="suspend") - _value(
            before, "limen_containments_total", via="suspend"
        )

    assert wait_for(lambda: counted() >= 2) and counted() == 2
    # Suspending a suspended identity contains nothing more; the API's suspension of
    # the same identity is not counted again either.
    limen("identity", "suspend", "carol", "--reason", "again")
    assert client.post("/v1/identities/carol/suspend", json={}, headers=admin_headers).is_success
    make_identity("dave")
    limen("identity", "suspend", "dave", "--reason", "last")
    assert wait_for(lambda: counted() >= 3) and counted() == 3


def test_a_scraper_needs_the_metrics_scope_or_an_audit_role(
    client: TestClient, admin_headers: dict[str, str], db: Database
) -> None:
    operator = Actor.operator()
    with db.unit_of_work() as uow:
        scraper = identity.create(uow, operator, kind="service", name="prometheus")
        viewer = identity.create(uow, operator, kind="human", name="vera", roles=["viewer"])
        _, scoped = identity.issue_api_token(
            uow, operator, scraper, purpose="personal", scopes=["metrics:read"]
        )
        _, other = identity.issue_api_token(
            uow, operator, scraper, purpose="personal", scopes=["events:read"]
        )
        _, vera = identity.issue_api_token(uow, operator, viewer, purpose="personal", scopes=["*"])
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {scoped}"}).status_code == 200
    for token in (other, vera):
        refused = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
