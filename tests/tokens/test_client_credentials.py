"""The client credentials grant with real clients: Authlib's OAuth2Client over real HTTP."""

from __future__ import annotations

import base64
import json
import os
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OKPKey

from limen import tokens
from limen.config import Settings
from limen.store import Database
from limen.store.models import AssertionJti, Event
from limen.testing import server_process
from tests.oauth_factories import grant


@pytest.fixture(autouse=True)
def _quiet_joserfc() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc: "EdDSA is deprecated via RFC 9864"
        yield


def test_authlib_client_gets_a_token_with_client_secret_basic_and_post(
    live_server: Any, make_identity: Any, make_client: Any, db: Any
) -> None:
    make_identity("deploy-bot", kind="service")
    for method in ("client_secret_basic", "client_secret_post"):
        c = make_client("deploy-bot", ["secrets:read", "tools:call"], auth_method=method)
        with OAuth2Client(
            c.client_id, c.secret, token_endpoint_auth_method=method, scope="tools:call"
        ) as oauth:
            token = oauth.fetch_token(
                f"{live_server.url}/oauth2/token", grant_type="client_credentials"
            )
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "tools:call"
        assert token["expires_in"] == 300
        header = json.loads(base64.urlsafe_b64decode(token["access_token"].split(".")[0] + "=="))
        assert header["typ"] == "at+jwt" and header["alg"] == "EdDSA" and header["kid"]
        # The issuance is in the event log by the time the token arrives.
        claims = json.loads(base64.urlsafe_b64decode(token["access_token"].split(".")[1] + "=="))
        with db.unit_of_work(readonly=True) as uow:
            issued = uow.session.scalars(
                sa.select(Event).where(
                    Event.action == "token.issue", Event.resource_id == claims["jti"]
                )
            ).all()
        assert [(e.outcome, e.actor_id) for e in issued] == [("success", c.identity_id)]


def test_a_client_authenticates_only_by_the_method_it_registered(
    live_server: Any, make_identity: Any, make_client: Any
) -> None:
    # RFC 7591 §2 token_endpoint_auth_method; OpenID Connect Core §9.
    make_identity("deploy-bot", kind="service")
    basic = make_client("deploy-bot", ["tools:call"])
    post = make_client("deploy-bot", ["tools:call"], auth_method="client_secret_post")
    for c, wrong in ((basic, "client_secret_post"), (post, "client_secret_basic")):
        with (
            OAuth2Client(c.client_id, c.secret, token_endpoint_auth_method=wrong) as oauth,
            pytest.raises(OAuthError) as refused,
        ):
            oauth.fetch_token(f"{live_server.url}/oauth2/token", grant_type="client_credentials")
        assert refused.value.error == "invalid_client"
    # A failed HTTP Basic authentication is answered with a Basic challenge (RFC 6749 §5.2).
    r = httpx.post(
        f"{live_server.url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(basic.client_id, "wrong"),
    )
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic ")
    assert r.json()["error"] == "invalid_client"


def test_private_key_jwt_client(live_server: Any, make_identity: Any, make_client: Any) -> None:
    from authlib.oauth2.rfc7523 import PrivateKeyJWT

    make_identity("ci-job", kind="service")
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "ci-1"})
    c = make_client(
        "ci-job",
        ["builds:write"],
        auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
    )
    assert c.secret is None
    endpoint = f"{live_server.url}/oauth2/token"
    audience = endpoint
    with OAuth2Client(
        c.client_id,
        key,
        token_endpoint_auth_method=PrivateKeyJWT(audience, alg="EdDSA"),
    ) as oauth:
        token = oauth.fetch_token(endpoint, grant_type="client_credentials")
    assert token["scope"] == "builds:write"

    # The same assertion again is a replay and is refused (RFC 7523 §3 jti).
    now = time.time()
    claims = {
        "iss": c.client_id,
        "sub": c.client_id,
        "aud": audience,
        "exp": int(now) + 60,
        "jti": "once",
    }
    assertion = jwt.encode({"alg": "EdDSA"}, claims, key, algorithms=["EdDSA"])
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    assert httpx.post(endpoint, data=form).status_code == 200
    replay = httpx.post(endpoint, data=form)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"
    # RFC 7523 §3: the issuer identifies the authorization server as well as the token
    # endpoint's URL does; an assertion naming it is accepted, one naming anyone else not.
    for aud, status in ((live_server.url, 200), ("https://elsewhere.example/", 401)):
        claims = {**claims, "aud": aud, "jti": f"aud-{status}"}
        form["client_assertion"] = jwt.encode({"alg": "EdDSA"}, claims, key, algorithms=["EdDSA"])
        answer = httpx.post(endpoint, data=form)
        assert answer.status_code == status, (aud, answer.text)
    # A secret presented for a private_key_jwt client is not accepted either.
    wrong = httpx.post(
        endpoint, data={"grant_type": "client_credentials"}, auth=(c.client_id, "limen_cs_guess")
    )
    assert wrong.status_code == 401


def test_an_assertion_used_on_one_node_is_refused_on_another(
    live_server: Any, settings: Settings, tmp_path: Path, make_identity: Any, make_client: Any
) -> None:
    """Two nodes on one database, this process and a ``limen server`` child: an
    assertion is used once, whichever of them sees it first (RFC 7523 §3 jti)."""
    make_identity("ci-job", kind="service")
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "ci-1"})
    c = make_client(
        "ci-job",
        ["builds:write"],
        auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
    )
    claims = {
        "iss": c.client_id,
        "sub": c.client_id,
        "aud": settings.resolved_public_url,  # the issuer: the same for both nodes
        "exp": int(time.time()) + 60,
        "jti": "used-once",
    }
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": jwt.encode({"alg": "EdDSA"}, claims, key, algorithms=["EdDSA"]),
    }
    env = {
        **os.environ,
        "LIMEN_DATA_DIR": str(settings.data_dir),
        "LIMEN_PUBLIC_URL": settings.resolved_public_url,
    }
    if settings.database_url:
        env["LIMEN_DATABASE_URL"] = settings.database_url
    with server_process(env, output=tmp_path / "node-b.log") as (node_b, _):
        first = httpx.post(f"{live_server.url}/oauth2/token", data=form)
        assert first.status_code == 200, first.text
        for node in (node_b, live_server.url):
            replay = httpx.post(f"{node}/oauth2/token", data=form)
            assert replay.status_code == 401, (node, replay.text)
            assert replay.json() == {
                "error": "invalid_client",
                "error_description": "client authentication failed",
            }
        # Another id from the same client is a new assertion, on either node.
        claims["jti"] = "another"
        form["client_assertion"] = jwt.encode({"alg": "EdDSA"}, claims, key, algorithms=["EdDSA"])
        second = httpx.post(f"{node_b}/oauth2/token", data=form)
        assert second.status_code == 200, second.text
        assert httpx.post(f"{live_server.url}/oauth2/token", data=form).status_code == 401


def test_used_assertion_ids_are_kept_until_they_expire(db: Database, installed: Any) -> None:
    now = datetime.now(UTC)
    first = tokens.UsedAssertions(db)
    assert first.use("client-a", "x", until=now - timedelta(seconds=1))
    assert not first.use("client-a", "x", until=now + timedelta(minutes=1))
    assert first.use("client-b", "x", until=now + timedelta(minutes=1))  # ids are per client
    # A node starting later deletes what has expired before it records anything.
    tokens.UsedAssertions(db).use("client-a", "y", until=now + timedelta(minutes=1))
    with db.unit_of_work(readonly=True) as uow:
        kept = uow.session.execute(sa.select(AssertionJti.client_id)).scalars().all()
    assert sorted(kept) == ["client-a", "client-b"]
    assert tokens.UsedAssertions(db).use("client-a", "x", until=now + timedelta(minutes=1))


def test_wrong_secret_unknown_client_and_no_credentials_are_invalid_client(
    client: TestClient, make_identity: Any, make_client: Any
) -> None:
    make_identity("svc", kind="service")
    c = make_client("svc", ["a:b"])
    for auth in ((c.client_id, c.secret + "x"), ("nosuchclient", c.secret)):
        r = client.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=auth)
        assert r.status_code == 401
        assert r.json() == {
            "error": "invalid_client",
            "error_description": "client authentication failed",
        }
        assert c.secret not in r.text
    r = client.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # Every failure is in the event log, without the secret.
    with client.app.state.services.db.unit_of_work(readonly=True) as uow:
        rows = uow.session.scalars(
            sa.select(Event).where(Event.action == "oauth.client.authenticate")
        ).all()
        assert len(rows) >= 2
        assert all(r.outcome == "denied" for r in rows)
        assert c.secret not in repr([(r.reason, r.context) for r in rows])


def test_scope_beyond_registration_is_invalid_scope(
    client: TestClient, make_identity: Any, make_client: Any
) -> None:
    make_identity("svc", kind="service")
    c = make_client("svc", ["secrets:read"])
    r = grant(client, c, scope="secrets:read secrets:write")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"
    r = client.post("/oauth2/token", data={"grant_type": "password"}, auth=(c.client_id, c.secret))
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = client.post("/oauth2/token", json={"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_a_suspended_identity_gets_no_token_and_its_tokens_stop_working(
    client: TestClient, admin_headers: dict[str, str], make_identity: Any, make_client: Any
) -> None:
    make_identity("svc", kind="service")
    c = make_client("svc", ["identities:read"])
    access_token = grant(client, c).json()["access_token"]
    bearer = {"Authorization": f"Bearer {access_token}"}
    assert client.get("/v1/identities", headers=bearer).status_code == 200
    assert client.post("/v1/identities/svc/suspend", headers=admin_headers).status_code == 200
    assert client.get("/v1/identities", headers=bearer).status_code == 401
    assert grant(client, c).status_code == 401
    client.post("/v1/identities/svc/reactivate", headers=admin_headers)
    # The token issued before the suspension stays dead; the client gets a new one.
    assert client.get("/v1/identities", headers=bearer).status_code == 401
    fresh = {"Authorization": f"Bearer {grant(client, c).json()['access_token']}"}
    assert client.get("/v1/identities", headers=fresh).status_code == 200


def test_oversized_token_request_is_refused(client: TestClient) -> None:
    r = client.post(
        "/oauth2/token",
        content=b"grant_type=client_credentials&x=" + b"a" * 2_000_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
