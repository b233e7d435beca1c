"""Signing keys: sealed under the root key, never stored in the clear, usable for any JWT."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from limen.audit import Actor
from limen.keyfile import read_key_file
from limen.store import Database
from limen.store.models import SigningKey
from limen.tokens import InvalidAccessToken, SigningKeys, SigningUnavailable
from tests.oauth_factories import grant


def test_keys_are_sealed_and_only_open_with_the_root_key(db: Database, settings, installed) -> None:
    root = read_key_file(settings.resolved_key_file)
    keys = SigningKeys(db, root_key=root, max_token_ttl=timedelta(minutes=5))
    set_token = keys.sign_jwt({"iss": "limen", "events": {}}, typ="secevent+jwt")
    header, claims = keys.verify_jwt(set_token, typ="secevent+jwt")
    assert header["typ"] == "secevent+jwt" and claims["iss"] == "limen"

    with db.unit_of_work(readonly=True) as uow:
        row = uow.session.scalars(sa.select(SigningKey)).one()
        assert "d" not in row.public_jwk
        assert len(row.sealed_private_key) == 12 + 32 + 16  # nonce, key, tag: sealed
    other = SigningKeys(db, root_key=b"\x01" * 32, max_token_ttl=timedelta(minutes=5))
    with pytest.raises(SigningUnavailable):
        other.reload()


def test_forged_and_altered_tokens_are_refused(db: Database, settings, installed) -> None:
    import base64
    import json

    from limen.tokens import InvalidAccessToken

    def b64(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    root = read_key_file(settings.resolved_key_file)
    keys = SigningKeys(db, root_key=root, max_token_ttl=timedelta(minutes=5))
    good = keys.sign_jwt({"sub": "a", "scope": "x"}, typ="at+jwt")
    head, body, sig = good.split(".")
    kid = keys.current_kid()
    forged = [
        f"{b64({'alg': 'none', 'typ': 'at+jwt', 'kid': kid})}.{body}.",
        f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid})}.{body}.{sig}",
        f"{head}.{b64({'sub': 'a', 'scope': '*'})}.{sig}",  # escalated payload, old signature
        f"{b64({'alg': 'EdDSA', 'typ': 'at+jwt', 'kid': 'someone-else'})}.{body}.{sig}",
        f"{b64({'alg': 'EdDSA', 'typ': 'at+jwt', 'kid': kid, 'crit': ['x']})}.{body}.{sig}",
        good + "x",
        "a.b",
        "x" * 9000,
    ]
    for token in forged:
        with pytest.raises(InvalidAccessToken):
            keys.verify_jwt(token, typ="at+jwt")
    # A valid signature with the wrong type (an ID token, a SET) is not an access token.
    with pytest.raises(InvalidAccessToken):
        keys.verify_jwt(keys.sign_jwt({"sub": "a"}, typ="JWT"), typ="at+jwt")
    assert keys.verify_jwt(good, typ="at+jwt")[1]["scope"] == "x"


def test_a_token_verified_before_vouches_for_no_altered_copy(
    client: TestClient, admin_headers: dict[str, str], make_identity: Any, make_client: Any
) -> None:
    make_identity("deploy-bot", kind="service")
    c = make_client("deploy-bot", ["tools:call"])
    raw = grant(client, c).json()["access_token"]
    service = client.app.state.services.tokens
    for _ in range(2):  # the second time, the signature check may be remembered
        assert service.verify(raw).sub == c.identity_id

    head, body, sig = raw.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    escalated = base64.urlsafe_b64encode(json.dumps({**claims, "scope": "*"}).encode())
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    for altered in (f"{head}.{escalated.rstrip(b'=').decode()}.{sig}", f"{head}.{body}.{flipped}"):
        with pytest.raises(InvalidAccessToken):
            service.verify(altered)
    # Status is still read on every use.
    client.post("/v1/identities/deploy-bot/suspend", headers=admin_headers)
    with pytest.raises(InvalidAccessToken):
        service.verify(raw)


def test_made_up_key_ids_cannot_make_every_token_read_the_key_ring(
    db: Database, settings, installed
) -> None:
    root = read_key_file(settings.resolved_key_file)
    ttl = timedelta(minutes=5)
    node_a = SigningKeys(db, root_key=root, max_token_ttl=ttl)
    node_a.current_kid()
    # Another node on the same database, which hears of node A's rotation only by asking.
    other_db = Database(settings.resolved_database_url)
    try:
        node_b = SigningKeys(other_db, root_key=root, max_token_ttl=ttl)
        node_b.current_kid()
        with db.unit_of_work() as uow:
            fresh_kid = node_a.rotate(uow, Actor.operator())
        fresh = node_a.sign_jwt({"sub": "a"}, typ="at+jwt")
        assert node_b.verify_jwt(fresh, typ="at+jwt")[0]["kid"] == fresh_kid

        _, body, sig = fresh.split(".")
        key_reads: list[str] = []

        def count(_conn, _cursor, statement: str, *_args) -> None:
            if "signing_keys" in statement:
                key_reads.append(statement)

        sa.event.listen(other_db.engine, "before_cursor_execute", count)
        for n in range(50):
            header = {"alg": "EdDSA", "typ": "at+jwt", "kid": f"made-up-{n}"}
            encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=")
            with pytest.raises(InvalidAccessToken):
                node_b.verify_jwt(f"{encoded.decode()}.{body}.{sig}", typ="at+jwt")
        assert len(key_reads) <= 1
    finally:
        other_db.dispose()


def test_rs256_keys_are_sealed_published_and_rotated_with_the_rest(
    db: Database, settings, installed
) -> None:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    root = read_key_file(settings.resolved_key_file)
    keys = SigningKeys(db, root_key=root, max_token_ttl=timedelta(minutes=5))
    first = keys.sign_jwt({"iss": "limen", "events": {}}, typ="secevent+jwt", alg="RS256")
    with db.unit_of_work(readonly=True) as uow:
        row = uow.session.scalars(sa.select(SigningKey).where(SigningKey.alg == "RS256")).one()
        assert b"PRIVATE KEY" not in row.sealed_private_key  # sealed, never PEM at rest
    # Limen never takes an RS256 token as its own: access tokens are EdDSA only.
    with pytest.raises(InvalidAccessToken):
        keys.verify_jwt(first, typ="secevent+jwt")

    with db.unit_of_work() as uow:
        keys.rotate(uow, Actor.system("test"))
    second = keys.sign_jwt({"iss": "limen", "events": {}}, typ="secevent+jwt", alg="RS256")
    published = keys.jwks()
    for token in (first, second):  # the retired key stays published while SETs may live
        decoded = jwt.decode(token, KeySet.import_key_set(published), algorithms=["RS256"])
        assert decoded.claims["iss"] == "limen"
    kids = {jwt.decode(t, KeySet.import_key_set(published)).header["kid"] for t in (first, second)}
    assert len(kids) == 2
    with pytest.raises(ValueError):
        keys.sign_jwt({}, typ="secevent+jwt", alg="HS256")
