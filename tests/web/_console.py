"""Signing in to the console as a browser does, for the tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from limen import identity
from limen.ids import new_id
from limen.store import Database
from limen.store.models import DetectAlert

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def sign_in(client: Any, token: str, *, next: str = "/console/identities") -> str:
    """Sign ``client`` in with ``token``; returns the session's form token."""
    form = client.get("/console/sign-in")
    assert form.status_code == 200, form.text
    done = client.post(
        "/console/sign-in",
        data={"token": token, "csrf": csrf_of(form.text), "next": next},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = client.get("/console/kill-switch")  # any page carries the session's token
    return csrf_of(page.text)


def raise_alert(db: Database, name: str, *, score: float, severity: str, text: str = "") -> str:
    """An open alert on ``name``, stored as the live detector stores one
    (``limen.detect.live``); returns its id."""
    with db.unit_of_work() as uow:
        found = identity.get(uow.session, name)
        now = datetime.now(UTC)
        row = DetectAlert(
            id=new_id(),
            subject=found.id,
            identity_id=found.id,
            identity_name=found.name,
            kind=str(found.kind),
            score=score,
            severity=severity,
            status="open",
            reasons=[{"code": "new_location", "weight": 0.7, "text": text or "first call"}],
            event_ids=[],
            first_at=now,
            last_at=now,
            raised_at=now,
            closed=False,
        )
        uow.session.add(row)
        return row.id
