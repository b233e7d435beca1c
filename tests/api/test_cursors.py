"""Every paged listing hands out the same kind of cursor, and refuses a damaged one the
same way: a 400 saying "invalid cursor", never a page from somewhere else."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from limen import identity
from limen.audit import Actor
from limen.audit.feed_tokens import issue_events_token
from limen.store import Database, InvalidCursor, decode_cursor, encode_cursor


def _edited(cursor: str) -> str:
    """``cursor`` with one byte of its document changed, re-encoded as valid base64."""
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[len(raw) // 3] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def _problem(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == "Invalid cursor" and body["code"] == "invalid-cursor"
    assert body["detail"].startswith("invalid cursor")
    return body


def test_the_codec_round_trips_and_refuses_edits_and_other_listings() -> None:
    cursor = encode_cursor("identities", ["2026-12-06T10:00:00+00:00", "a" * 26, 7, None])
    assert decode_cursor(cursor, "identities") == ["2026-12-06T10:00:00+00:00", "a" * 26, 7, None]
    assert "identities" not in cursor and "a" * 26 not in cursor  # opaque, not readable
    for bad in (_edited(cursor), cursor[:-2], cursor + "A", "", "!!!", "x" * 3000):
        with pytest.raises(InvalidCursor, match="not one this server issued"):
            decode_cursor(bad, "identities")
    with pytest.raises(InvalidCursor, match="different list"):
        decode_cursor(cursor, "events")


def test_every_native_listing_refuses_an_edited_cursor(
    client: TestClient, db: Database, admin_headers: dict[str, str]
) -> None:
    with db.unit_of_work() as uow:
        for n in range(3):
            identity.create(uow, Actor.operator(), kind="service", name=f"job-{n}")
    cursors = {}
    for path in ("/v1/identities", "/v1/events"):
        page = client.get(path, params={"limit": 1}, headers=admin_headers).json()
        cursors[path] = page["next_cursor"]
        assert client.get(
            path, params={"limit": 1, "cursor": cursors[path]}, headers=admin_headers
        ).json()["items"]
        _problem(client.get(path, params={"cursor": _edited(cursors[path])}, headers=admin_headers))
    # One listing's cursor does not continue another.
    swapped = client.get(
        "/v1/events", params={"cursor": cursors["/v1/identities"]}, headers=admin_headers
    )
    assert "different list" in _problem(swapped)["detail"]


def test_the_events_feed_refuses_an_edited_cursor_in_its_own_error_body(
    client: TestClient, db: Database, installed: Any
) -> None:
    with db.unit_of_work() as uow:
        _, raw = issue_events_token(uow, Actor.operator(), features=("auditevents",))
    headers = {"Authorization": f"Bearer {raw}"}
    page = client.post("/api/v2/auditevents", json={"limit": 1}, headers=headers).json()
    assert client.post(
        "/api/v2/auditevents", json={"cursor": page["cursor"]}, headers=headers
    ).status_code == (200)
    edited = client.post(
        "/api/v2/auditevents", json={"cursor": _edited(page["cursor"])}, headers=headers
    )
    assert edited.status_code == 400
    assert edited.json()["Error"]["Message"].startswith("invalid cursor")
