"""The Shared Signals transmitter over real HTTP, with a real receiver that checks signatures.

The receiver is a small HTTP server run by the test: it fetches Limen's JWKS and verifies
every SET with joserfc, as an independent receiver would, and answers as RFC 8935 says.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import KeySet

from limen import identity, tokens
from limen.api import create_app
from limen.audit import Actor
from limen.config import Settings
from limen.installation import InitResult
from limen.respond import ssf
from limen.respond.ssf import outbox
from limen.store import Database
from limen.store.models import Event, SsfOutbox, SsfStream, utcnow
from limen.testing import free_port, server_process
from tests.conftest import serve
from tests.respond._waiting import wait_for

FAST = {"idle_interval": 0.05, "backoff_base": 0.05, "backoff_max": 0.2}
RECEIVER_AUTH = "Bearer receiver-side-credential"


def verify_set(token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc prefers the newer name "Ed25519"
        decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"])
    return dict(decoded.header), dict(decoded.claims)


class Receiver:
    """An SSF push receiver (RFC 8935) that verifies each SET against Limen's JWKS."""

    def __init__(self, jwks_url: str, *, port: int | None = None) -> None:
        self.jwks_url = jwks_url
        self.received: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.authorizations: list[str | None] = []
        self.rejected = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                receiver.authorizations.append(self.headers.get("authorization"))
                if self.headers.get("content-type") != "application/secevent+jwt":
                    return self._answer(400, {"err": "invalid_request"})
                try:
                    jwks = httpx.get(receiver.jwks_url, timeout=5).json()
                    header, claims = verify_set(body, jwks)
                except Exception:
                    receiver.rejected += 1
                    return self._answer(400, {"err": "invalid_key"})
                receiver.received.append((header, claims))
                self._answer(202, None)

            def _answer(self, status: int, body: dict[str, Any] | None) -> None:
                raw = json.dumps(body).encode() if body else b""
                self.send_response(status)
                if body:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        return [(next(iter(c["events"])), h, c) for h, c in self.received]


def _identity(db: Database, **fields: Any) -> str:
    with db.unit_of_work() as uow:
        return identity.create(uow, Actor.system("test"), **fields).id


def _token(db: Database, ref: str, scopes: tuple[str, ...]) -> str:
    with db.unit_of_work() as uow:
        _, raw = identity.issue_api_token(
            uow,
            Actor.system("test"),
            identity.get(uow.session, ref),
            purpose="service-account",
            scopes=scopes,
        )
        return raw


@pytest.fixture
def siem(db: Database, installed: InitResult) -> tuple[str, str]:
    """An OAuth client for the SIEM, as a receiver would hold (client id, secret)."""
    _identity(db, kind="service", name="siem", attributes={"partner": True})
    with db.unit_of_work() as uow:
        client, secret = tokens.register_client(
            uow,
            Actor.system("test"),
            identity.get(uow.session, "siem"),
            scopes=["ssf:manage", "users:read", "users:suspend", "users:reactivate"],
        )
    assert secret is not None
    return client.client_id, secret


def bearer(url: str, credentials: tuple[str, str]) -> dict[str, str]:
    """Headers with an access token from Limen's token endpoint (client_credentials)."""
    response = httpx.post(
        f"{url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=credentials
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@contextlib.contextmanager
def limen(settings: Settings, db: Database, *, first: bool = True) -> Iterator[str]:
    """A Limen node with a fast-retrying transmitter that may push to this host's test
    receivers (LIMEN_SSF_ALLOWED_HOSTS). The first listens at the installation's public
    URL; another node of it (``first=False``) on a free port."""
    allowed = settings.model_copy(update={"ssf_allowed_hosts": "127.0.0.1"})
    app = create_app(allowed, database=db, ssf_tuning=FAST)
    with serve(app, port=settings.port if first else None) as live:
        yield live.url


def test_configuration_and_stream_management(
    db: Database, settings: Settings, siem: tuple[str, str]
) -> None:
    with limen(settings, db) as url, httpx.Client(base_url=url) as http:
        http.headers.update(bearer(url, siem))
        config = httpx.get(f"{url}/.well-known/ssf-configuration").json()
        assert config["issuer"] == url
        assert config["jwks_uri"] == f"{url}/.well-known/jwks.json"
        assert config["delivery_methods_supported"] == ["urn:ietf:rfc:8935", "urn:ietf:rfc:8936"]
        assert config["configuration_endpoint"] == f"{url}/ssf/streams"

        created = http.post(
            "/ssf/streams",
            json={
                "delivery": {"method": ssf.PUSH, "endpoint_url": "http://127.0.0.1:9/events"},
                "events_requested": [ssf.ACCOUNT_DISABLED, "urn:example:unknown"],
                "description": "SOC",
            },
        )
        assert created.status_code == 201, created.text
        stream = created.json()
        assert stream["iss"] == url
        assert stream["events_delivered"] == [ssf.ACCOUNT_DISABLED]
        assert set(stream["events_supported"]) == set(ssf.EVENTS_SUPPORTED)

        poll = http.post("/ssf/streams", json={}).json()
        assert poll["delivery"] == {
            "method": ssf.POLL,
            "endpoint_url": f"{url}/ssf/poll/{poll['stream_id']}",
        }
        assert poll["events_delivered"] == list(ssf.EVENTS_SUPPORTED)

        listed = http.get("/ssf/streams").json()
        assert [s["stream_id"] for s in listed] == [stream["stream_id"], poll["stream_id"]]
        one = http.get("/ssf/streams", params={"stream_id": stream["stream_id"]}).json()
        assert one == stream

        patched = http.patch(
            "/ssf/streams",
            json={"stream_id": stream["stream_id"], "events_requested": [ssf.SESSION_REVOKED]},
        ).json()
        assert patched["events_delivered"] == [ssf.SESSION_REVOKED]
        assert patched["description"] == "SOC"
        replaced = http.put(
            "/ssf/streams",
            json={
                "stream_id": stream["stream_id"],
                "delivery": {"method": ssf.PUSH, "endpoint_url": "http://127.0.0.1:9/other"},
                "events_requested": [ssf.ACCOUNT_ENABLED],
            },
        ).json()
        assert "delivery" in replaced, replaced
        assert "description" not in replaced, replaced
        assert replaced["delivery"]["endpoint_url"] == "http://127.0.0.1:9/other"
        wrong_iss = http.patch(
            "/ssf/streams", json={"stream_id": stream["stream_id"], "iss": "https://evil"}
        )
        assert wrong_iss.status_code == 400

        status = http.get("/ssf/status", params={"stream_id": stream["stream_id"]}).json()
        assert status == {"stream_id": stream["stream_id"], "status": "enabled"}
        paused = http.post(
            "/ssf/status",
            json={"stream_id": stream["stream_id"], "status": "paused", "reason": "maintenance"},
        ).json()
        assert paused == {
            "stream_id": stream["stream_id"],
            "status": "paused",
            "reason": "maintenance",
        }
        bad_status = http.post(
            "/ssf/status", json={"stream_id": stream["stream_id"], "status": "sleeping"}
        )
        assert bad_status.status_code == 400

        bad = http.post("/ssf/streams", json={"delivery": {"method": "urn:example:carrier"}})
        assert bad.status_code == 400
        assert "delivery.method" in bad.json()["detail"]
        no_url = http.post("/ssf/streams", json={"delivery": {"method": ssf.PUSH}})
        assert no_url.status_code == 400

        # Another receiver sees none of these streams.
        _identity(db, kind="service", name="other-receiver")
        other = {"Authorization": f"Bearer {_token(db, 'other-receiver', ('ssf:manage',))}"}
        assert httpx.get(f"{url}/ssf/streams", headers=other).json() == []
        theirs = httpx.get(
            f"{url}/ssf/streams", params={"stream_id": stream["stream_id"]}, headers=other
        )
        assert theirs.status_code == 404
        no_scope = {"Authorization": f"Bearer {_token(db, 'other-receiver', ('users:read',))}"}
        assert httpx.get(f"{url}/ssf/streams", headers=no_scope).status_code == 403

        gone = http.delete("/ssf/streams", params={"stream_id": stream["stream_id"]})
        assert gone.status_code == 204
        missing = http.get("/ssf/streams", params={"stream_id": stream["stream_id"]})
        assert missing.status_code == 404


def test_suspension_is_pushed_as_signed_sets_the_receiver_verifies(
    db: Database, settings: Settings, siem: tuple[str, str], installed: InitResult
) -> None:
    alice = _identity(db, kind="human", name="alice", email="alice@example.com")
    bot = _identity(db, kind="agent", name="alice-bot", owner="alice")
    with limen(settings, db) as url, Receiver(f"{url}/.well-known/jwks.json") as receiver:
        http = httpx.Client(base_url=url, headers=bearer(url, siem))
        stream = http.post(
            "/ssf/streams",
            json={
                "delivery": {
                    "method": ssf.PUSH,
                    "endpoint_url": receiver.url,
                    "authorization_header": RECEIVER_AUTH,
                }
            },
        ).json()
        assert "authorization_header" not in json.dumps(stream)
        with db.engine.connect() as conn:
            stored = conn.scalar(sa.select(SsfStream.authorization_header))
        assert stored.startswith("v1.")
        assert "receiver-side-credential" not in stored

        base = f"/v1beta1/accounts/{installed.account_id}"
        suspended = http.post(f"{base}/users/{alice}:suspend?cascade=true&reason=phished")
        assert suspended.status_code == 200, suspended.text

        wait_for(lambda: len(receiver.received) >= 4)
        got = {(event, claims["sub_id"]["sub"]) for event, _, claims in receiver.events()}
        assert got == {
            (ssf.ACCOUNT_DISABLED, alice),
            (ssf.SESSION_REVOKED, alice),
            (ssf.ACCOUNT_DISABLED, bot),
            (ssf.SESSION_REVOKED, bot),
        }
        for _, header, claims in receiver.events():
            assert header["typ"] == "secevent+jwt"
            assert header["alg"] == "EdDSA"
            assert claims["iss"] == url
            assert claims["aud"] == stream["aud"]
            assert claims["sub_id"] == {
                "format": "iss_sub",
                "iss": url,
                "sub": claims["sub_id"]["sub"],
            }
            assert claims["jti"] and claims["iat"] and claims["txn"]
        revoked = next(
            c
            for e, _, c in receiver.events()
            if e == ssf.SESSION_REVOKED and c["sub_id"]["sub"] == alice
        )
        payload = revoked["events"][ssf.SESSION_REVOKED]
        assert payload["initiating_entity"] == "admin"
        assert payload["reason_admin"] == {"en": "phished"}
        assert set(receiver.authorizations) == {RECEIVER_AUTH}

        http.post(f"{base}/users/{alice}:reactivate")
        wait_for(lambda: any(e == ssf.ACCOUNT_ENABLED for e, _, _ in receiver.events()))

        verified = http.post("/ssf/verify", json={"stream_id": stream["stream_id"], "state": "x1"})
        assert verified.status_code == 204
        wait_for(lambda: any(e == ssf.VERIFICATION for e, _, _ in receiver.events()))
        check = next(c for e, _, c in receiver.events() if e == ssf.VERIFICATION)
        assert check["events"][ssf.VERIFICATION] == {"state": "x1"}
        assert receiver.rejected == 0

        events = http.get(
            "/v1/events", params={"action": "ssf.push"}, headers=_admin(installed)
        ).json()["items"]
        assert {e["outcome"] for e in events} == {"success"}
        assert {e["context"]["receiver"] for e in events} == {"siem"}
        everything = http.get(
            "/v1/events", params={"limit": 1000}, headers=_admin(installed)
        ).json()["items"]
        assert RECEIVER_AUTH not in json.dumps(everything)
        assert any(e["action"] == "ssf.stream.create" for e in everything)


def _admin(installed: InitResult) -> dict[str, str]:
    return {"Authorization": f"Bearer {installed.admin_token}"}


def test_push_survives_a_receiver_outage_and_a_restart_of_limen(
    db: Database, settings: Settings, siem: tuple[str, str]
) -> None:
    carol = _identity(db, kind="service", name="carol-job")
    port = free_port()  # nothing listens here yet: the receiver is down
    with limen(settings, db) as url:
        http = httpx.Client(base_url=url, headers=bearer(url, siem))
        http.post(
            "/ssf/streams",
            json={
                "delivery": {"method": ssf.PUSH, "endpoint_url": f"http://127.0.0.1:{port}/events"},
                "events_requested": [ssf.ACCOUNT_DISABLED],
            },
        )
        with db.unit_of_work() as uow:
            identity.suspend(uow, Actor.system("test"), carol, reason="drill")

        def attempts() -> int:
            with db.engine.connect() as conn:
                return conn.scalar(sa.select(sa.func.max(SsfOutbox.attempts))) or 0

        wait_for(lambda: attempts() >= 2)
    # Limen is down now, with the SET still waiting in the outbox.
    with db.engine.connect() as conn:
        states = conn.execute(sa.select(SsfOutbox.state)).scalars().all()
    assert states == ["pending"]

    with limen(settings, db) as url, Receiver(f"{url}/.well-known/jwks.json", port=port) as rx:
        wait_for(lambda: rx.received)
        (event, _, claims), *_ = rx.events()
        assert event == ssf.ACCOUNT_DISABLED
        assert claims["sub_id"]["sub"] == carol
        wait_for(lambda: _states(db) == ["delivered"])
    assert rx.rejected == 0


def _states(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.execute(sa.select(SsfOutbox.state)).scalars().all())


def test_poll_delivery_with_acknowledgement(
    db: Database, settings: Settings, siem: tuple[str, str]
) -> None:
    dave = _identity(db, kind="service", name="dave-job")
    with limen(settings, db) as url:
        http = httpx.Client(base_url=url, headers=bearer(url, siem))
        stream = http.post("/ssf/streams", json={"delivery": {"method": ssf.POLL}}).json()
        poll_url = stream["delivery"]["endpoint_url"]
        empty = http.post(poll_url, json={"returnImmediately": True}).json()
        assert empty == {"sets": {}, "moreAvailable": False}

        token = _token(db, "dave-job", ("identities:read",))
        with db.unit_of_work() as uow:
            identity.suspend(uow, Actor.system("test"), dave)
            identity.reactivate(uow, Actor.system("test"), dave)
        with db.unit_of_work() as uow:
            [held] = identity.tokens_of(uow.session, dave)
            identity.revoke_api_token(uow, Actor.system("test"), held.id)
        assert token

        jwks = httpx.get(f"{url}/.well-known/jwks.json").json()
        # A paused stream keeps its SETs and hands them out once enabled again.
        sid = stream["stream_id"]
        http.post("/ssf/status", json={"stream_id": sid, "status": "paused"})
        held = http.post(poll_url, json={"returnImmediately": True}).json()
        assert held == {"sets": {}, "moreAvailable": False}
        http.post("/ssf/status", json={"stream_id": sid, "status": "enabled"})
        first = http.post(poll_url, json={"returnImmediately": True, "maxEvents": 2}).json()
        assert first["moreAvailable"] is True
        assert len(first["sets"]) == 2
        seen = []
        for jti, raw in first["sets"].items():
            _, claims = verify_set(raw, jwks)
            assert claims["jti"] == jti
            seen.append(next(iter(claims["events"])))
        assert seen == [ssf.ACCOUNT_DISABLED, ssf.SESSION_REVOKED]

        # Unacknowledged SETs come back; acknowledged ones do not.
        again = http.post(poll_url, json={"returnImmediately": True, "maxEvents": 2}).json()
        assert again["sets"].keys() == first["sets"].keys()
        rest = http.post(
            poll_url,
            json={"returnImmediately": True, "ack": list(first["sets"]), "maxEvents": 10},
        ).json()
        kinds = [next(iter(verify_set(r, jwks)[1]["events"])) for r in rest["sets"].values()]
        assert kinds == [ssf.ACCOUNT_ENABLED, ssf.SESSION_REVOKED]
        jtis = list(rest["sets"])
        final = http.post(
            poll_url,
            json={
                "returnImmediately": True,
                "ack": jtis[:1],
                "setErrs": {jtis[1]: {"err": "invalid_audience", "description": "not ours"}},
            },
        ).json()
        assert final == {"sets": {}, "moreAvailable": False}
        assert sorted(_states(db)) == ["delivered"] * 3 + ["failed"]

        # Settled SETs are forgotten after the retention period.
        with db.unit_of_work() as uow:
            kept = outbox.prune(uow, older_than=timedelta(days=7))
        with db.unit_of_work() as uow:
            gone = outbox.prune(uow, older_than=timedelta(0), now=utcnow() + timedelta(seconds=1))
        assert (kept, gone) == (0, 4)

        bad = http.post(poll_url, json={"maxEvents": -1})
        assert bad.status_code == 400
    with db.engine.connect() as conn:
        polls = conn.execute(
            sa.select(Event.actor_name, Event.context).where(Event.action == "ssf.poll")
        ).all()
    assert {name for name, _ in polls} == {"siem"}
    assert sum(context["settled"] for _, context in polls) == 4


def test_two_nodes_push_each_set_once(
    db: Database, settings: Settings, siem: tuple[str, str]
) -> None:
    jobs = [_identity(db, kind="service", name=f"job-{n}") for n in range(5)]
    second = Database(settings.resolved_database_url)
    try:
        with (
            limen(settings, db) as url,
            limen(settings, second, first=False),
            Receiver(f"{url}/.well-known/jwks.json") as receiver,
        ):
            http = httpx.Client(base_url=url, headers=bearer(url, siem))
            http.post(
                "/ssf/streams",
                json={
                    "delivery": {"method": ssf.PUSH, "endpoint_url": receiver.url},
                    "events_requested": [ssf.ACCOUNT_DISABLED],
                },
            )
            for job in jobs:
                with db.unit_of_work() as uow:
                    identity.suspend(uow, Actor.system("test"), job)
            wait_for(lambda: _states(db) == ["delivered"] * len(jobs))
            time.sleep(0.3)  # room for a duplicate to arrive, were there one
        subjects = [claims["sub_id"]["sub"] for _, _, claims in receiver.events()]
        assert sorted(subjects) == sorted(jobs)
    finally:
        second.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_failed_push_is_in_the_server_log_without_credentials(
    db: Database,
    settings: Settings,
    siem: tuple[str, str],
    admin_headers: dict[str, str],
    tmp_path: Any,
) -> None:
    port = free_port()  # nothing listens there: the receiver is down
    endpoint = f"http://127.0.0.1:{port}/events?token=receiver-query-credential"
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "LIMEN_DATA_DIR": str(settings.data_dir),
        "LIMEN_SSF_ALLOWED_HOSTS": "127.0.0.1",
    }
    _identity(db, kind="service", name="victim")
    with server_process(env, output=log) as (url, _):
        created = httpx.post(
            f"{url}/ssf/streams",
            headers=bearer(url, siem),
            json={
                "delivery": {
                    "method": ssf.PUSH,
                    "endpoint_url": endpoint,
                    "authorization_header": RECEIVER_AUTH,
                },
                "events_requested": [ssf.ACCOUNT_DISABLED],
            },
        )
        assert created.status_code == 201, created.text
        suspended = httpx.post(f"{url}/v1/identities/victim/suspend", headers=admin_headers)
        assert suspended.status_code == 200
        wait_for(lambda: "Shared Signals push" in log.read_text())
    printed = log.read_text()
    line = next(text for text in printed.splitlines() if "Shared Signals push" in text)
    assert f"to 127.0.0.1:{port} " in line
    assert "failed, attempt 1: receiver unreachable (ConnectError); retrying at" in line
    assert "receiver-query-credential" not in printed
    assert RECEIVER_AUTH.split()[1] not in printed


def test_the_caep_interop_profile_scope_names(
    client: Any, db: Database, installed: InitResult
) -> None:
    # CAEP interoperability profile: ssf.manage manages streams, ssf.read only reads them.
    _identity(db, kind="service", name="caep-rx", attributes={"partner": True})
    manager = {"Authorization": f"Bearer {_token(db, 'caep-rx', ('ssf.manage',))}"}
    reader = {"Authorization": f"Bearer {_token(db, 'caep-rx', ('ssf.read',))}"}
    created = client.post("/ssf/streams", json={}, headers=manager)
    assert created.status_code == 201, created.text
    stream_id = created.json()["stream_id"]
    streams = client.get("/ssf/streams", headers=reader)
    assert streams.status_code == 200 and [s["stream_id"] for s in streams.json()] == [stream_id]
    status = client.get("/ssf/status", params={"stream_id": stream_id}, headers=reader)
    assert status.status_code == 200
    assert client.post("/ssf/streams", json={}, headers=reader).status_code == 403
    gone = client.delete("/ssf/streams", params={"stream_id": stream_id}, headers=reader)
    assert gone.status_code == 403


def test_a_caep_interop_receiver_verifies_rs256_sets_from_the_advertised_jwks(
    db: Database, settings: Settings, siem: tuple[str, str]
) -> None:
    """The CAEP interoperability profile: SETs signed RS256 with a key of at least 2048
    bits, found through ``jwks_uri``; verified here by Authlib, not the library that signed."""
    from authlib.jose import JsonWebKey, JsonWebToken

    erin = _identity(db, kind="service", name="erin-job")
    rs256 = settings.model_copy(update={"ssf_signing_alg": "RS256"})
    with limen(rs256, db) as url:
        http = httpx.Client(base_url=url, headers=bearer(url, siem))
        stream = http.post("/ssf/streams", json={"delivery": {"method": ssf.POLL}}).json()
        with db.unit_of_work() as uow:
            identity.suspend(uow, Actor.system("test"), erin)
        poll_url = stream["delivery"]["endpoint_url"]
        wait_for(lambda: http.post(poll_url, json={"returnImmediately": True}).json()["sets"])
        sets = http.post(poll_url, json={"returnImmediately": True}).json()["sets"]

        jwks_uri = httpx.get(f"{url}/.well-known/ssf-configuration").json()["jwks_uri"]
        jwks = httpx.get(jwks_uri).json()
        by_alg = {key["alg"]: key for key in jwks["keys"]}
        assert set(by_alg) == {"EdDSA", "RS256"}  # access tokens keep their Ed25519 key
        rsa = by_alg["RS256"]
        assert rsa["kty"] == "RSA" and rsa["use"] == "sig" and "d" not in rsa
        modulus = int.from_bytes(base64.urlsafe_b64decode(rsa["n"] + "=" * (-len(rsa["n"]) % 4)))
        assert modulus.bit_length() >= 2048

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Authlib points at joserfc for new code
            receiver = JsonWebToken(["RS256"])
            keys = JsonWebKey.import_key_set(jwks)
            for jti, raw in sets.items():
                claims = receiver.decode(raw, keys)
                claims.validate()
                assert claims.header["alg"] == "RS256"
                assert claims.header["kid"] == rsa["kid"]
                assert claims.header["typ"] == "secevent+jwt"
                assert claims["jti"] == jti
                assert claims["iss"] == url
                assert claims["sub_id"]["sub"] == erin
        assert {next(iter(verify_set_rs256(raw, jwks)["events"])) for raw in sets.values()} >= {
            ssf.ACCOUNT_DISABLED
        }


def verify_set_rs256(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """joserfc too, refusing anything but RS256."""
    return dict(jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims)


def test_a_stream_may_ask_for_rs256_while_others_keep_eddsa(
    db: Database, settings: Settings, siem: tuple[str, str]
) -> None:
    """Per stream: a receiver that needs RS256 asks for it (``signing_alg``); the
    installation's default (EdDSA here) signs every other stream's SETs."""
    fay = _identity(db, kind="service", name="fay-job")
    with limen(settings, db) as url:
        http = httpx.Client(base_url=url, headers=bearer(url, siem))
        refused = http.post("/ssf/streams", json={"signing_alg": "HS256"})
        assert refused.status_code == 400 and "signing_alg" in refused.json()["detail"]
        rs = http.post(
            "/ssf/streams", json={"delivery": {"method": ssf.POLL}, "signing_alg": "RS256"}
        ).json()
        ed = http.post("/ssf/streams", json={"delivery": {"method": ssf.POLL}}).json()
        assert (rs["signing_alg"], ed["signing_alg"]) == ("RS256", "EdDSA")
        with db.unit_of_work() as uow:
            identity.suspend(uow, Actor.system("test"), fay)
        for stream, alg in ((rs, "RS256"), (ed, "EdDSA")):
            poll = stream["delivery"]["endpoint_url"]
            wait_for(lambda p=poll: http.post(p, json={"returnImmediately": True}).json()["sets"])
            sets = http.post(poll, json={"returnImmediately": True}).json()["sets"]
            jwks = httpx.get(f"{url}/.well-known/jwks.json").json()
            for raw in sets.values():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    decoded = jwt.decode(raw, KeySet.import_key_set(jwks), algorithms=[alg])
                assert decoded.header["alg"] == alg
        # Back to the default when the receiver no longer asks.
        updated = http.patch(
            "/ssf/streams", json={"stream_id": rs["stream_id"], "signing_alg": None}
        ).json()
        assert updated["signing_alg"] == "EdDSA"
