"""Status is live: a suspension or revocation made anywhere is honoured at the next decision."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

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


def test_what_changed_while_the_feed_was_down_is_caught_up_before_it_counts_as_current(
    db: Database, installed: Any, make_identity: Any
) -> None:
    from datetime import timedelta

    from limen.identity import StatusView
    from limen.store.models import Identity, IdentityStatus, RevokedToken, utcnow

    alice = make_identity("alice")
    view = StatusView(db)
    try:
        assert view.refusal((alice,)) is None
        db.broadcaster.stop()  # the feed is down: changes made now are never announced
        assert view.refusal((alice,)) == "stale"  # fails closed, rather than trust memory
        # Change the rows behind Limen's back: no notice at all, as if it were lost.
        with db.engine.begin() as connection:
            connection.execute(
                sa.update(Identity.__table__)
                .where(Identity.__table__.c.id == alice)
                .values(status=IdentityStatus.SUSPENDED)
            )
            connection.execute(
                sa.insert(RevokedToken.__table__).values(
                    jti="lost-jti",
                    expires_at=utcnow() + timedelta(minutes=5),
                    revoked_at=utcnow(),
                )
            )
        db.broadcaster.start()
        assert db.broadcaster.ready.wait(5)
        # Back, it re-read everything before counting as current.
        assert view.refusal((alice,)) == "suspended"
        assert view.is_token_revoked("lost-jti")
    finally:
        view.close()
