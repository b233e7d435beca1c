"""Token exchange (RFC 8693), introspection (RFC 7662) and revocation (RFC 7009) over real HTTP."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from limen import identity
from limen.audit import Actor
from limen.store.models import utcnow
from limen.tokens import InvalidAccessToken, introspect

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture(autouse=True)
def _quiet_joserfc() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture
def people(make_identity: Any, make_client: Any) -> dict[str, Any]:
    make_identity("alice", email="alice@example.com", roles=["viewer"])
    make_identity("bob")
    make_identity("alice-bot", kind="agent", owner="alice")
    return {
        "alice": make_client("alice", ["secrets:read", "tools:call", "identities:read"]),
        # bob's client is also a resource server's: it may introspect others' tokens.
        "bob": make_client("bob", ["secrets:read", "tools:call", "tokens:introspect"]),
        "bot": make_client("alice-bot", ["tools:call", "secrets:read", "vault:write"]),
    }


def _token(base: str, c: Any, **data: str) -> httpx.Response:
    return httpx.post(
        f"{base}/oauth2/token",
        data={"grant_type": "client_credentials", **data},
        auth=(c.client_id, c.secret),
    )


def _exchange(base: str, c: Any, subject_token: str, **extra: str) -> httpx.Response:
    data = {
        "grant_type": EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS,
        **extra,
    }
    return httpx.post(f"{base}/oauth2/token", data=data, auth=(c.client_id, c.secret))


def _jwks(base: str) -> KeySet:
    return KeySet.import_key_set(httpx.get(f"{base}/.well-known/jwks.json").json())


def test_agent_exchanges_its_owners_token_for_a_delegated_one(
    live_server: Any, people: dict[str, Any], installed: Any
) -> None:
    base = live_server.url
    human = _token(base, people["alice"]).json()["access_token"]
    r = _exchange(base, people["bot"], human)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["issued_token_type"] == ACCESS
    assert body["token_type"] == "Bearer"
    # Scope: the intersection of alice's token and the bot's registration.
    assert set(body["scope"].split()) == {"secrets:read", "tools:call"}

    # Verified with joserfc against the JWKS the server publishes.
    token = jwt.decode(body["access_token"], _jwks(base), algorithms=["EdDSA"])
    assert token.header["typ"] == "at+jwt"
    claims = token.claims
    assert claims["sub"] == people["alice"].identity_id
    assert claims["act"] == {"sub": people["bot"].identity_id}
    assert claims["client_id"] == people["bot"].client_id
    assert claims["iss"] == base and claims["aud"] == base
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"]

    # Downscoping by asking for less is fine; asking for more is invalid_scope.
    narrower = _exchange(base, people["bot"], human, scope="tools:call")
    assert narrower.json()["scope"] == "tools:call"
    escalation = _exchange(base, people["bot"], human, scope="tools:call vault:write")
    assert escalation.status_code == 400
    assert escalation.json()["error"] == "invalid_scope"
    identities = _exchange(base, people["bot"], human, scope="identities:read")
    assert identities.json()["error"] == "invalid_scope"

    # RFC 8693 §2.2.2: an audience Limen will not issue for is invalid_target, not ignored;
    # its own (the issuer) or a requested resource is honoured.
    elsewhere = _exchange(base, people["bot"], human, audience="https://other.example/")
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_target"
    assert _exchange(base, people["bot"], human, audience=base).status_code == 200
    api = "https://api.example.com/"
    named = _exchange(base, people["bot"], human, audience=api, resource=api)
    assert named.status_code == 200, named.text
    named_claims = jwt.decode(named.json()["access_token"], _jwks(base), algorithms=["EdDSA"])
    assert named_claims.claims["aud"] in (api, [api])

    # The delegated token acts on the API as the bot on alice's behalf, in the event log.
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    events = httpx.get(
        f"{base}/v1/events", params={"action": "token.exchange"}, headers=admin
    ).json()["items"]
    assert events[-1]["actor"]["id"] == people["bot"].identity_id
    assert events[-1]["delegation"][0]["id"] == people["alice"].identity_id


def test_agent_cannot_act_for_a_human_who_does_not_own_it(
    live_server: Any, people: dict[str, Any]
) -> None:
    base = live_server.url
    bobs = _token(base, people["bob"]).json()["access_token"]
    r = _exchange(base, people["bot"], bobs)
    assert r.status_code == 400
    assert r.json()["error"] == "unauthorized_client"
    garbage = _exchange(base, people["bot"], bobs[:-4] + "AAAA")
    assert garbage.json()["error"] == "invalid_grant"
    missing = httpx.post(
        f"{base}/oauth2/token",
        data={"grant_type": EXCHANGE},
        auth=(people["bot"].client_id, people["bot"].secret),
    )
    assert missing.json()["error"] == "invalid_request"


def test_delegated_token_dies_with_either_party(
    live_server: Any, people: dict[str, Any], installed: Any
) -> None:
    base = live_server.url
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    human = _token(base, people["alice"]).json()["access_token"]
    delegated = _exchange(base, people["bot"], human).json()["access_token"]

    def active(token: str) -> bool:
        r = httpx.post(f"{base}/oauth2/introspect", data={"token": token}, headers=admin)
        assert r.status_code == 200
        return r.json()["active"]

    assert active(delegated)
    httpx.post(f"{base}/v1/identities/alice/suspend", headers=admin)
    assert not active(delegated) and not active(human)
    httpx.post(f"{base}/v1/identities/alice/reactivate", headers=admin)
    # Issued before the suspension: never honoured again, whoever holds it.
    assert not active(delegated) and not active(human)
    human = _token(base, people["alice"]).json()["access_token"]
    delegated = _exchange(base, people["bot"], human).json()["access_token"]
    assert active(delegated) and active(human)
    httpx.post(f"{base}/v1/identities/alice-bot/suspend", headers=admin)
    assert not active(delegated) and active(human)


def test_an_agents_own_token_is_inactive_while_its_owner_is_suspended(
    live_server: Any, people: dict[str, Any], installed: Any
) -> None:
    base = live_server.url
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    own = _token(base, people["bot"]).json()["access_token"]  # the agent's, not delegated

    def active(token: str) -> bool:
        r = httpx.post(f"{base}/oauth2/introspect", data={"token": token}, headers=admin)
        assert r.status_code == 200
        return r.json()["active"]

    def may_use_the_api(token: str) -> bool:
        r = httpx.get(f"{base}/v1/identities", headers={"Authorization": f"Bearer {token}"})
        return r.status_code != 401

    assert active(own) and may_use_the_api(own)
    httpx.post(f"{base}/v1/identities/alice/suspend", headers=admin)
    # Introspection agrees with the PDP: an agent has no more rights than its owner.
    assert not active(own) and not may_use_the_api(own)
    httpx.post(f"{base}/v1/identities/alice/reactivate", headers=admin)
    # Her suspension cut off what was issued on her authority before it, her agents'
    # tokens too; the agent's client gets a new one.
    assert not active(own) and not may_use_the_api(own)
    fresh = _token(base, people["bot"]).json()["access_token"]
    assert active(fresh) and may_use_the_api(fresh)


def test_introspection_and_revocation(
    live_server: Any, people: dict[str, Any], installed: Any
) -> None:
    base = live_server.url
    alice, bob = people["alice"], people["bob"]
    token = _token(base, alice).json()["access_token"]

    # A client (the resource server) introspects with its own credentials.
    r = httpx.post(
        f"{base}/oauth2/introspect", data={"token": token}, auth=(bob.client_id, bob.secret)
    )
    body = r.json()
    assert body["active"] is True
    assert body["sub"] == alice.identity_id and body["client_id"] == alice.client_id
    assert body["username"] == "alice" and body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == {"secrets:read", "tools:call", "identities:read"}
    # Unauthenticated introspection is refused.
    assert httpx.post(f"{base}/oauth2/introspect", data={"token": token}).status_code == 401

    # Bob may not revoke Alice's token …
    r = httpx.post(f"{base}/oauth2/revoke", data={"token": token}, auth=(bob.client_id, bob.secret))
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    # … Alice may, and from then on it is dead everywhere at once.
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/v1/identities", headers=bearer).status_code == 200
    r = httpx.post(
        f"{base}/oauth2/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        auth=(alice.client_id, alice.secret),
    )
    assert r.status_code == 200 and r.content == b""
    assert httpx.get(f"{base}/v1/identities", headers=bearer).status_code == 401
    r = httpx.post(
        f"{base}/oauth2/introspect", data={"token": token}, auth=(bob.client_id, bob.secret)
    )
    assert r.json() == {"active": False}
    # Revoking again, or revoking garbage, is still 200 (RFC 7009 §2.2).
    for junk in (token, "not-a-token"):
        r = httpx.post(
            f"{base}/oauth2/revoke", data={"token": junk}, auth=(alice.client_id, alice.secret)
        )
        assert r.status_code == 200
    r = httpx.post(
        f"{base}/oauth2/revoke",
        data={"token": token, "token_type_hint": "id_token"},
        auth=(alice.client_id, alice.secret),
    )
    assert r.json()["error"] == "unsupported_token_type"


def test_only_a_client_registered_to_introspect_sees_others_tokens(
    live_server: Any, people: dict[str, Any], make_identity: Any, db: Any
) -> None:
    """RFC 7662 §2.1 and §2.2: the caller must be authorized, and a token it may not
    introspect is simply not active to it."""
    base = live_server.url
    alice, bot = people["alice"], people["bot"]
    token = _token(base, alice).json()["access_token"]
    own = _token(base, bot).json()["access_token"]

    def ask(auth: Any = None, headers: Any = None, about: str = token) -> httpx.Response:
        return httpx.post(
            f"{base}/oauth2/introspect", data={"token": about}, auth=auth, headers=headers
        )

    # The bot's client was not registered to introspect: alice's token is not for it …
    assert ask(auth=(bot.client_id, bot.secret)).json() == {"active": False}
    # … its own tokens are.
    mine = ask(auth=(bot.client_id, bot.secret), about=own).json()
    assert mine["active"] is True and mine["client_id"] == bot.client_id
    # bob's client was (a resource server), so it sees alice's token as it is.
    bob = people["bob"]
    assert ask(auth=(bob.client_id, bob.secret)).json()["active"] is True

    # A bearer token needs the scope: alice's own access token has none.
    refused = ask(headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    with db.unit_of_work() as uow:
        holder = identity.get(uow.session, "alice")
        _, introspector = identity.issue_api_token(
            uow, Actor.operator(), holder, purpose="service-account", scopes=["tokens:introspect"]
        )
    allowed = ask(headers={"Authorization": f"Bearer {introspector}"})
    assert allowed.status_code == 200 and allowed.json()["active"] is True
    nobody = ask()
    assert nobody.status_code == 401 and nobody.json()["error"] == "invalid_client"


def test_revoking_a_client_kills_its_tokens(
    live_server: Any, people: dict[str, Any], installed: Any, cli: Any
) -> None:
    base = live_server.url
    token = _token(base, people["bob"]).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/.well-known/jwks.json").status_code == 200
    result = cli("client", "revoke", people["bob"].client_id, "--json")
    assert result.exit_code == 0, result.stderr
    # The CLI is another Database on the same store: SQLite replays events, PostgreSQL NOTIFYs.
    for _ in range(100):
        r = httpx.post(
            f"{base}/oauth2/introspect",
            data={"token": token},
            headers={"Authorization": f"Bearer {installed.admin_token}"},
        )
        if not r.json()["active"]:
            break
        __import__("time").sleep(0.05)
    assert r.json() == {"active": False}
    assert _token(base, people["bob"]).status_code == 401
    # Nor does it authenticate as an introspecting resource server.
    r = httpx.post(
        f"{base}/oauth2/introspect",
        data={"token": token},
        auth=(people["bob"].client_id, people["bob"].secret),
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert httpx.get(f"{base}/v1/identities", headers=bearer).status_code == 401


def test_wrong_audience_and_expiry(live_server: Any, people: dict[str, Any], app: Any) -> None:
    base = live_server.url
    r = _token(base, people["alice"], resource="https://api.example.com/")
    assert r.status_code == 200
    foreign = r.json()["access_token"]
    # Minted for another resource server: Limen's own API refuses it …
    bearer = {"Authorization": f"Bearer {foreign}"}
    assert httpx.get(f"{base}/v1/identities", headers=bearer).status_code == 401
    # … and a resource server checking its own audience accepts it, another does not.
    service = app.state.services.tokens
    assert service.verify(foreign, audience="https://api.example.com/").aud == (
        "https://api.example.com/",
    )
    with pytest.raises(InvalidAccessToken):
        service.verify(foreign, audience="https://other.example.com/")
    bad = _token(base, people["alice"], resource="not a uri")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_target"

    # Expiry, with the clock injected rather than waited for.
    own = _token(base, people["alice"]).json()["access_token"]
    later = utcnow() + timedelta(minutes=5, seconds=1)
    assert introspect(service, own)["active"] is True
    assert introspect(service, own, now=later) == {"active": False}
    with pytest.raises(InvalidAccessToken) as caught:
        service.verify(own, now=later)
    assert caught.value.reason == "expired"  # type: ignore[attr-defined]


def test_metadata_and_key_rotation(live_server: Any, people: dict[str, Any], app: Any) -> None:
    base = live_server.url
    meta = httpx.get(f"{base}/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == base
    assert meta["token_endpoint"] == f"{base}/oauth2/token"
    assert EXCHANGE in meta["grant_types_supported"]
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    # RFC 8414 §2: auth methods are client authentication methods from the IANA registry
    # ("bearer" is none), and an OPTIONAL member with nothing to say is left out.
    for name in ("introspection", "revocation"):
        assert "bearer" not in meta[f"{name}_endpoint_auth_methods_supported"]
    empty = [k for k, v in meta.items() if v == [] and k != "response_types_supported"]
    assert not empty  # response_types_supported is REQUIRED: empty, as no flow uses it

    before = _token(base, people["alice"]).json()["access_token"]
    service = app.state.services.tokens
    old_kid = service.keys.current_kid()
    from limen.audit import Actor

    with service.db.unit_of_work() as uow:
        new_kid = service.keys.rotate(uow, Actor.operator())
    assert new_kid != old_kid
    kids = [k["kid"] for k in httpx.get(f"{base}/.well-known/jwks.json").json()["keys"]]
    assert kids == [new_kid, old_kid]  # the old key is published until its tokens expire
    after = _token(base, people["alice"]).json()["access_token"]
    keys = _jwks(base)
    assert jwt.decode(before, keys, algorithms=["EdDSA"]).header["kid"] == old_kid
    assert jwt.decode(after, keys, algorithms=["EdDSA"]).header["kid"] == new_kid
    assert (
        httpx.get(
            f"{base}/v1/identities", headers={"Authorization": f"Bearer {before}"}
        ).status_code
        == 200
    )
    # Once every token the old key may have signed has expired (partner tokens live 15
    # minutes), it is no longer published.
    later = utcnow() + timedelta(minutes=16)
    assert [k["kid"] for k in service.keys.jwks(now=later)["keys"]] == [new_kid]
