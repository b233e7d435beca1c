"""The 1Password Events-API-compatible feed, read like a SIEM collector reads it."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from limen.audit import Actor, Outcome, record
from limen.audit.feed_tokens import issue_events_token
from limen.config import Settings
from limen.store import Database
from tests.respond._waiting import wait_for


def _token(db: Database, *features: str) -> dict[str, str]:
    with db.unit_of_work() as uow:
        _, raw = issue_events_token(uow, Actor.operator(), features=features)
    return {"Authorization": f"Bearer {raw}"}


def _mine(page: dict[str, Any]) -> list[str]:
    """This test's actions, leaving out what the server's audit worker records itself."""
    return [i["limen"]["action"] for i in page["items"] if i["limen"]["action"].startswith("test.")]


def _drain(
    client: TestClient, feed: str, headers: dict[str, str], body: dict[str, Any]
) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    while True:
        response = client.post(f"/api/v2/{feed}", json=body, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        body = {"cursor": page["cursor"]}
        if not page["has_more"]:
            return items, page["cursor"]


def test_introspect_reports_the_token_features_and_account(
    client: TestClient, db: Database, installed: Any
) -> None:
    headers = _token(db, "auditevents", "itemusages")
    body = client.get("/api/v2/auth/introspect", headers=headers).json()
    assert body["features"] == ["auditevents", "itemusages"]
    assert body["account_uuid"] == installed.account_id
    assert body["uuid"] and body["issued_at"]


def test_features_scope_the_token_and_errors_use_the_events_api_body(
    client: TestClient, db: Database
) -> None:
    headers = _token(db, "itemusages")
    denied = client.post("/api/v2/auditevents", json={}, headers=headers)
    assert denied.status_code == 403
    assert "auditevents" in denied.json()["Error"]["Message"]
    missing = client.post("/api/v2/auditevents", json={})
    assert missing.status_code == 401 and "Error" in missing.json()
    bad = client.post("/api/v2/itemusages", json={"cursor": "not-ours"}, headers=headers)
    assert bad.status_code == 400 and "cursor" in bad.json()["Error"]["Message"]
    other_feed = client.post("/api/v2/itemusages", json={"limit": 5}, headers=headers).json()
    wrong = client.post(
        "/api/v2/auditevents",
        json={"cursor": other_feed["cursor"]},
        headers=_token(db, "auditevents"),
    )
    assert wrong.status_code == 400


def test_each_feed_maps_limen_events_onto_the_events_api_shapes(
    client: TestClient, db: Database, installed: Any
) -> None:
    agent = Actor(
        kind="agent",
        name="triage-bot",
        identity_id="a" * 26,
        delegation=({"id": "h" * 26, "kind": "human", "name": "alice"},),
        token_id="t" * 26,
        context={"ip": "127.0.0.1"},
    )
    with db.unit_of_work() as uow:
        record(
            uow.session,
            agent,
            "vault.secret.read",
            resource_type="vault_item",
            resource_id="i" * 26,
            resource_name="prod/db",
            context={"vault_id": "v" * 26, "version": 3, "purpose": "run"},
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
        record(uow.session, agent, "identity.suspend", resource_type="identity", resource_id="x")
    headers = _token(db, "auditevents", "itemusages", "signinattempts")

    usages, _ = _drain(client, "itemusages", headers, {})
    assert len(usages) == 1
    usage = usages[0]
    assert usage["used_version"] == 3 and usage["vault_uuid"] == "v" * 26
    assert usage["item_uuid"] == "i" * 26 and usage["action"] == "fill"
    assert usage["user"]["name"] == "triage-bot" and usage["client"]["ip_address"] == "127.0.0.1"
    assert usage["account_uuid"] == installed.account_id
    assert usage["limen"]["delegation"][0]["name"] == "alice"
    assert usage["limen"]["actor_kind"] == "agent"

    attempts, _ = _drain(client, "signinattempts", headers, {})
    assert [a["category"] for a in attempts] == ["credentials_failed"]
    assert attempts[0]["type"] == "password_secret_bad" and attempts[0]["session_uuid"] == "t" * 26

    audits, _ = _drain(client, "auditevents", headers, {})
    suspend = [a for a in audits if a["limen"]["action"] == "identity.suspend"]
    assert len(suspend) == 1
    assert suspend[0]["action"] == "suspend" and suspend[0]["object_type"] == "identity"
    assert suspend[0]["actor_uuid"] == "a" * 26 and suspend[0]["session"]["ip"] == "127.0.0.1"
    assert not {a["uuid"] for a in audits} & {usage["uuid"], attempts[0]["uuid"]}


def test_reset_cursor_honours_time_window_and_limit(client: TestClient, db: Database) -> None:
    headers = _token(db, "auditevents")
    with db.unit_of_work() as uow:
        for n in range(7):
            record(uow.session, Actor.system(), "test.windowed", resource_id=str(n))
    first = client.post("/api/v2/auditevents", json={"limit": 3}, headers=headers).json()
    assert len(first["items"]) == 3 and first["has_more"] is True
    everything, cursor = _drain(client, "auditevents", headers, {"limit": 3})
    windowed = [i for i in everything if i["limen"]["action"] == "test.windowed"]
    assert len(windowed) == 7 and len({i["uuid"] for i in everything}) == len(everything)
    later = client.post(
        "/api/v2/auditevents", json={"start_time": "2999-01-01T00:00:00Z"}, headers=headers
    ).json()
    assert later["items"] == [] and later["has_more"] is False
    # Polling an exhausted cursor answers nothing new, then exactly what arrived since.
    again = client.post("/api/v2/auditevents", json={"cursor": cursor}, headers=headers).json()
    assert _mine(again) == []
    with db.unit_of_work() as uow:
        record(uow.session, Actor.system(), "test.after")
    # The feed links what is pending before it reads, but only if no other chainer holds
    # the chain's lock (PostgreSQL: this server's audit worker may be linking right then,
    # having read the pending events before this one committed); what it has not linked
    # yet comes on a later poll, never skipped. So poll, as a collector does.

    def poll() -> list[str]:
        page = client.post("/api/v2/auditevents", json={"cursor": cursor}, headers=headers)
        assert page.status_code == 200, page.text
        return _mine(page.json())

    newer = wait_for(poll, seconds=15)
    assert newer == ["test.after"]


def test_paging_while_others_append_returns_every_event_exactly_once(
    client: TestClient, db: Database
) -> None:
    headers = _token(db, "auditevents")
    writers, per_writer = 4, 60
    done = threading.Event()
    errors: list[BaseException] = []

    def write(n: int) -> None:
        rng = random.Random(n)
        try:
            for i in range(per_writer):
                with db.unit_of_work() as uow:
                    record(
                        uow.session,
                        Actor.system(f"w{n}"),
                        "test.concurrent",
                        resource_id=f"{n}-{i}",
                    )
                    # Hold some transactions open so commits land out of seq order.
                    if rng.random() < 0.2:
                        time.sleep(0.005)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    seen: list[str] = []
    body: dict[str, Any] = {"limit": 25}
    while True:
        response = client.post("/api/v2/auditevents", json=body, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [i["uuid"] for i in page["items"] if i["limen"]["action"] == "test.concurrent"]
        body = {"cursor": page["cursor"]}
        if done.is_set() and not page["has_more"]:
            break
        if not any(t.is_alive() for t in threads):
            # One more full drain after the writers stop catches their last commits.
            for thread in threads:
                thread.join()
            if not done.is_set():
                done.set()
                continue
    assert not errors, errors
    assert len(seen) == len(set(seen)), "an event was served twice"
    assert len(seen) == writers * per_writer, "an event was skipped"


def test_an_event_committed_late_with_a_lower_seq_is_not_skipped(
    client: TestClient, db: Database, settings: Settings
) -> None:
    if settings.backend != "postgresql":
        pytest.skip("SQLite serialises writers, so commits cannot overtake each other")
    headers = _token(db, "auditevents")
    _, cursor = _drain(client, "auditevents", headers, {})
    slow = db.unit_of_work()
    uow = slow.__enter__()
    early = record(uow.session, Actor.system("slow"), "test.slow")
    uow.session.execute(sa.select(1))  # any query writes it: it takes its seq now
    with db.unit_of_work() as fast:
        late = record(fast.session, Actor.system("fast"), "test.fast")
    page = client.post("/api/v2/auditevents", json={"cursor": cursor}, headers=headers).json()
    assert [i["uuid"] for i in page["items"] if i["limen"]["action"].startswith("test.")] == [
        late.id
    ]
    slow.__exit__(None, None, None)
    with db.engine.connect() as conn:
        seqs = dict(conn.execute(sa.text("SELECT id, seq FROM events")).all())
    assert seqs[early.id] < seqs[late.id]
    page = client.post(
        "/api/v2/auditevents", json={"cursor": page["cursor"]}, headers=headers
    ).json()
    assert [i["uuid"] for i in page["items"] if i["limen"]["action"].startswith("test.")] == [
        early.id
    ]
