"""Opaque tokens checked once are used again from memory: never past a revocation,
a suspension or their expiry (``identity.OpaqueTokens``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from limen import identity
from limen.audit import Actor
from limen.installation import InitResult
from limen.store import Database
from limen.store.models import utcnow
from tests.respond._waiting import wait_for


def _token(db: Database, name: str, **kwargs: Any) -> tuple[str, str]:
    """A new service identity's token: (token id, raw token)."""
    with db.unit_of_work() as uow:
        holder = identity.create(uow, Actor.system(), kind="service", name=name)
        token, raw = identity.issue_api_token(
            uow, Actor.system(), holder, purpose="test", scopes=["identities:read"], **kwargs
        )
        return token.id, raw


def test_a_token_in_use_is_refused_by_the_next_request_after_a_revocation_or_suspension(
    client: TestClient, db: Database, installed: InitResult, backend: str
) -> None:
    revoked_id, revoked = _token(db, "reporting")
    _, suspended = _token(db, "exporter")
    other_process_id, other_process = _token(db, "nightly")
    for raw in (revoked, suspended, other_process):
        for _ in range(2):  # the second request is answered from what the first kept
            headers = {"Authorization": f"Bearer {raw}"}
            assert client.get("/v1/identities", headers=headers).status_code == 200

    with db.unit_of_work() as uow:  # on this node, as the API or a playbook would
        identity.revoke_api_token(uow, Actor.system(), revoked_id)
        identity.suspend(uow, Actor.system(), "exporter", reason="phished")
    for raw in (revoked, suspended):
        answer = client.get("/v1/identities", headers={"Authorization": f"Bearer {raw}"})
        assert answer.status_code == 401
        assert "the bearer token is not valid" in answer.text

    # As another process (the CLI, another node) would: the change feed tells the server
    # within milliseconds (a notice row on SQLite, NOTIFY on PostgreSQL).
    elsewhere = Database(db.url)
    try:
        with elsewhere.unit_of_work() as uow:
            identity.revoke_api_token(uow, Actor.system(), other_process_id)
    finally:
        elsewhere.dispose()

    def refused() -> bool:
        headers = {"Authorization": f"Bearer {other_process}"}
        return client.get("/v1/identities", headers=headers).status_code == 401

    assert wait_for(refused, seconds=1)


def test_a_kept_token_still_expires_and_is_noted_as_used_once_per_interval(
    db: Database, installed: InitResult
) -> None:
    start = utcnow()
    token_id, raw = _token(db, "ci", expires_at=start + timedelta(hours=1))
    view = identity.StatusView(db)
    tokens = identity.OpaqueTokens(view)
    try:
        assert isinstance(tokens.begin(raw, now=start), identity.Pending)  # nothing kept yet
        stale: list[str] = []
        with db.reading() as reader:
            first = identity.authenticate(tokens, reader, raw, now=start, on_stale=stale.append)
        assert first.token_id == token_id and stale == [token_id]  # never used before

        for minutes, due in ((1, False), (6, True), (7, False), (12, True)):
            stale.clear()
            kept = tokens.begin(raw, now=start + timedelta(minutes=minutes), on_stale=stale.append)
            assert isinstance(kept, Actor) and kept.name == "ci"
            assert kept.has_scope("identities:read") and not kept.has_scope("vault:write")
            assert stale == ([token_id] if due else []), minutes

        with pytest.raises(identity.TokenExpired):
            tokens.begin(raw, now=start + timedelta(hours=1, seconds=1))
        assert isinstance(tokens.begin("limen_never-issued"), identity.Pending)  # to be read
        with pytest.raises(identity.InvalidToken):
            tokens.begin("not a limen token")
    finally:
        view.close()


def test_tokens_refused_for_good_are_forgotten(db: Database, installed: InitResult) -> None:
    """A revoked token, one issued before its identity's suspension and an expired one
    are refused once from memory and then forgotten (asked again, the row is read and
    refuses it): a SOAR's suspension revokes tokens every round, and keeping each would
    grow the node until the limit."""
    start = utcnow()
    revoked_id, revoked = _token(db, "revoked-one")
    _, cut_off = _token(db, "cut-off-one")
    _, expiring = _token(db, "expiring-one", expires_at=start + timedelta(hours=1))
    view = identity.StatusView(db)
    tokens = identity.OpaqueTokens(view)
    try:
        for raw in (revoked, cut_off, expiring):
            with db.reading() as reader:
                identity.authenticate(tokens, reader, raw, now=start)
            assert isinstance(tokens.begin(raw, now=start), Actor)  # kept
        with db.unit_of_work() as uow:
            identity.revoke_api_token(uow, Actor.system(), revoked_id)
            identity.suspend(uow, Actor.system(), "cut-off-one", reason="phished")
        with db.unit_of_work() as uow:
            identity.reactivate(uow, Actor.system(), "cut-off-one")
        later = start + timedelta(hours=2)
        for raw in (revoked, cut_off, expiring):
            with pytest.raises(identity.InvalidToken):
                tokens.begin(raw, now=later)
            assert isinstance(tokens.begin(raw, now=later), identity.Pending), raw[:12]
    finally:
        view.close()
