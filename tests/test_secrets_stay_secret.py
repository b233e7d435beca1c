"""The admin token is shown once and is nowhere else: not in the database, logs or errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa


def test_admin_token_is_stored_only_as_a_hash(
    installed: Any, db: Any, settings: Any, backend: str
) -> None:
    token = installed.admin_token
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM api_tokens")).all()
        events = conn.execute(sa.text("SELECT * FROM events")).all()
    dump = repr(rows) + repr(events)
    assert token not in dump
    assert token[len("limen_") :] not in dump
    if backend == "sqlite":
        db.dispose()
        for path in Path(settings.data_dir).glob("limen.db*"):
            assert token.encode() not in path.read_bytes()


def test_tokens_never_reach_logs_or_error_bodies(
    client: Any, admin_headers: dict[str, str], installed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bogus = "limen_" + "S3cr3t" * 7
    bodies = [
        client.get("/v1/identities", headers={"Authorization": f"Bearer {bogus}"}).text,
        client.post(
            "/v1/identities",
            json={"kind": "human", "name": bogus, "email": bogus},
            headers=admin_headers,
        ).text,
        client.post(
            "/v1/identities", json={"kind": bogus, "name": "x"}, headers=admin_headers
        ).text,
        client.post(
            "/v1/identities",
            content=b'{"kind": "' + bogus.encode() + b'", ',
            headers={**admin_headers, "content-type": "application/json"},
        ).text,
    ]
    for body in bodies:
        assert installed.admin_token not in body
        assert "S3cr3tS3cr3t" not in body
    assert installed.admin_token not in caplog.text
    assert "S3cr3tS3cr3t" not in caplog.text
