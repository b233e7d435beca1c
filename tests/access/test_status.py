"""Status is live: a suspension or revocation made anywhere is honoured at the next decision."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from limen.api import create_app
from limen.store import Database
from tests.conftest import serve

ADMINS_ONLY = {
    "subject": {"type": "identity", "id": "carol"},
    "action": {"name": "rotate"},
    "resource": {"type": "vault", "id": "prod"},
}


def _decision(base: str, headers: dict[str, str]) -> dict[str, Any]:
    r = httpx.post(f"{base}/access/v1/evaluation", json=ADMINS_ONLY, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _eventually_denied(base: str, headers: dict[str, str]) -> dict[str, Any]:
    # Across processes the change travels by NOTIFY (PostgreSQL) or is found in the event
    # log at the next read (SQLite); wait a bounded while rather than assume an order.
    deadline = time.monotonic() + 5
    while True:
        answer = _decision(base, headers)
        if not answer["decision"] or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


def test_cli_suspension_reaches_a_running_server(
    live_server: Any, admin_headers: dict[str, str], make_identity: Any, cli: Any
) -> None:
    make_identity("carol", roles=["admin"])
    base = live_server.url
    assert _decision(base, admin_headers)["decision"] is True  # and now cached
    result = cli("identity", "suspend", "carol", "--reason", "phished")
    assert result.exit_code == 0, result.stderr
    assert _eventually_denied(base, admin_headers)["context"] == {"reason": "subject_not_active"}
    cli("identity", "reactivate", "carol")
    deadline = time.monotonic() + 5
    while not _decision(base, admin_headers)["decision"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_two_nodes_on_postgresql(
    backend: str,
    settings: Any,
    db: Database,
    installed: Any,
    make_identity: Any,
    admin_headers: dict[str, str],
) -> None:
    if backend != "postgresql" and backend != "postgres":
        pytest.skip("several nodes share one PostgreSQL")
    make_identity("carol", roles=["admin"])
    other_db = Database(settings.resolved_database_url)
    try:
        with (
            serve(create_app(settings, database=db)) as a,
            serve(create_app(settings, database=other_db)) as b,
        ):
            other_db.broadcaster.ready.wait(5)
            db.broadcaster.ready.wait(5)
            assert _decision(b.url, admin_headers)["decision"] is True
            r = httpx.post(f"{a.url}/v1/identities/carol/suspend", headers=admin_headers)
            assert r.status_code == 200
            assert _eventually_denied(b.url, admin_headers)["context"] == {
                "reason": "subject_not_active"
            }
    finally:
        other_db.dispose()


def test_a_lost_notification_is_made_good_by_the_backstop(
    backend: str, db: Database, installed: Any, make_identity: Any
) -> None:
    from datetime import timedelta

    from limen.access import StatusView
    from limen.store.models import Identity, IdentityStatus, RevokedToken, utcnow

    if backend == "sqlite":
        pytest.skip("SQLite replays the event log; every status change there has an event")
    alice = make_identity("alice")
    view = StatusView(db, backstop=timedelta(0))
    try:
        assert view.identity(alice).is_active
        # Change the rows behind Limen's back: no event, no NOTIFY, as if it were lost.
        with db.unit_of_work() as uow:
            uow.session.get(Identity, alice).status = IdentityStatus.SUSPENDED
            uow.session.add(
                RevokedToken(jti="lost-jti", expires_at=utcnow() + timedelta(minutes=5))
            )
        assert not view.identity(alice).is_active
        assert view.is_token_revoked("lost-jti")
    finally:
        view.close()
