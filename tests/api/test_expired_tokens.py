"""An expired token is reported as expired, on every surface that refuses a token.

Issue #20 found that an expired token was reported only as "not valid", which leaves its
holder guessing (mistyped? revoked? suspended?). Expiry tells an attacker nothing (the
token carries its own ``exp``), so every surface says it outright, in its own error
format, for Limen's opaque tokens and its JWTs alike; other reasons stay "not valid".
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from limen import identity, tokens
from limen.audit import Actor
from limen.installation import InitResult
from limen.store import Database
from limen.store.models import utcnow
from tests.conftest import cli_in
from tests.vault.factories import issue_token
from tests.web._console import csrf_of

TWO_HOURS_AGO = timedelta(hours=2)
EVALUATION = {
    "subject": {"type": "identity", "id": "alice"},
    "action": {"name": "read"},
    "resource": {"type": "document", "id": "1"},
}

# Every surface with its own refusal: (method, path, body, where its message is).
SURFACES = (
    ("GET", "/v1/identities", None, ("detail",)),  # RFC 9457 problem details
    ("GET", "/v1/vaults", None, ("message",)),  # 1Password Connect {"status", "message"}
    ("POST", "/api/v2/auditevents", {"limit": 1}, ("Error", "Message")),  # Events API
    ("POST", "/api/v1/auditevents", {"limit": 1}, ("Error", "Message")),
    ("GET", "/api/auth/introspect", None, ("Error", "Message")),
    ("GET", "/v1beta1/accounts/x/users", None, ("detail",)),  # Users API for partners
    ("GET", "/scim/v2/Users", None, ("detail",)),  # SCIM error schema
    ("POST", "/access/v1/evaluation", EVALUATION, ("detail",)),  # AuthZEN
    ("GET", "/ssf/streams", None, ("detail",)),  # Shared Signals
    ("GET", "/metrics", None, ("detail",)),
)


def _expired_jwt(
    app: Any, db: Database, name: str = "nightly-export", kind: str = "service"
) -> str:
    """A JWT Limen signed two hours ago for ``name``: five minutes' life, long over."""
    service = app.state.services.tokens
    with db.unit_of_work() as uow:
        who = identity.create(uow, Actor.operator(), kind=kind, name=name)
        client, _ = tokens.register_client(
            uow, Actor.operator(), who, scopes=["identity:read"], name=name
        )
    with db.unit_of_work() as uow:
        issued = service.issue(
            uow,
            Actor.operator(),
            subject=who.id,
            client=client,
            scope=("identity:read",),
            audience=(service.issuer,),
            now=utcnow() - TWO_HOURS_AGO,
        )
    return issued.access_token


def _expired_opaque(db: Database) -> str:
    """A service-account token that lived an hour, two hours ago."""
    return issue_token(
        db, "old-job", "*:read", expires_in=timedelta(hours=1), now=utcnow() - TWO_HOURS_AGO
    )


def _message(body: dict[str, Any], where: tuple[str, ...]) -> str:
    value: Any = body
    for key in where:
        value = value[key]
    return str(value)


@pytest.mark.parametrize("kind", ["opaque", "jwt"])
def test_every_surface_says_the_token_has_expired(
    client: TestClient, app: Any, db: Database, installed: InitResult, kind: str
) -> None:
    raw = _expired_opaque(db) if kind == "opaque" else _expired_jwt(app, db)
    headers = {"Authorization": f"Bearer {raw}", "Content-Type": "application/json"}
    for method, path, body, where in SURFACES:
        content = json.dumps(body) if body is not None else None
        r = client.request(method, path, headers=headers, content=content)
        assert r.status_code == 401, (path, r.text)
        assert "has expired" in _message(r.json(), where), (path, r.text)
        assert raw not in r.text
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
        if "detail" in where and r.headers["content-type"] == "application/problem+json":
            assert r.json()["code"] == "token-expired", path

    # A token that is merely wrong is still only "not valid": nothing more is said.
    forged = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    r = client.get("/v1/identities", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and "not valid" in r.json()["detail"]


def test_token_exchange_says_the_subject_token_has_expired(
    client: TestClient, app: Any, db: Database, installed: InitResult
) -> None:
    subject = _expired_jwt(app, db, "alice", "human")
    with db.unit_of_work() as uow:
        agent = identity.create(uow, Actor.operator(), kind="agent", name="helper", owner="alice")
        exchanger, secret = tokens.register_client(
            uow, Actor.operator(), agent, scopes=["identity:read"], name="helper"
        )
    assert secret is not None
    r = client.post(
        "/oauth2/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": subject,
            "subject_token_type": tokens.ACCESS_TOKEN_TYPE,
        },
        auth=(exchanger.client_id, secret),
    )
    assert r.status_code == 400
    assert r.json() == {
        "error": "invalid_grant",
        "error_description": "the subject_token has expired",
    }


def test_the_console_sign_in_says_the_token_has_expired(
    client: TestClient, db: Database, installed: InitResult
) -> None:
    raw = _expired_opaque(db)
    form = client.get("/console/sign-in")
    refused = client.post(
        "/console/sign-in",
        data={"token": raw, "csrf": csrf_of(form.text), "next": ""},
        follow_redirects=False,
    )
    assert refused.status_code == 401
    assert "That access token has expired" in refused.text
    assert raw not in refused.text


def test_the_remote_cli_says_the_token_has_expired(
    settings: Any, installed: InitResult, live_server: Any, db: Database, tmp_path: Path
) -> None:
    limen = cli_in("remote", settings, installed, live_server, tmp_path)
    raw = _expired_opaque(db)
    result = limen("identity", "list", LIMEN_TOKEN=raw)
    assert result.exit_code != 0
    assert "has expired" in result.stderr
    assert "Traceback" not in result.stderr and raw not in result.stderr
