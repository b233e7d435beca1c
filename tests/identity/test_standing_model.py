"""Property test of the containment promise: for random sequences of suspensions (with and
without cascade), containments, kill switches, reactivations and revocations over humans,
agents and services, every token ever issued — JWT or opaque, direct or delegated — is
accepted by introspection, by the PDP and by the API **iff** a simple model says so.

The model: a token is good while it is not revoked and, for every identity it acts as or
for and each one's owner, that identity is active and was not suspended after the token
was issued. A grant is refused while that does not hold.

Seeded, so a failure replays; run on SQLite (one node) and on PostgreSQL with two nodes,
where changes are made on one node and checked on both.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from limen.api import create_app
from limen.store import Database
from tests.conftest import serve
from tests.respond._waiting import wait_for

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
STEPS = 60
SEEDS = (7, 1234)

# name: (kind, owner)
WORLD = {
    "h1": ("human", None),
    "h2": ("human", None),
    "a1": ("agent", "h1"),
    "a2": ("agent", "h2"),
    "s1": ("service", "h1"),
    "s2": ("service", None),
}


@dataclass
class Model:
    status: dict[str, str] = field(default_factory=lambda: dict.fromkeys(WORLD, "active"))
    suspended_at: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WORLD, 0))
    cascades: dict[str, dict[str, int]] = field(default_factory=dict)
    switches: dict[str, dict[str, int]] = field(default_factory=dict)
    clock: int = 0

    def chain_ok(self, chain: tuple[str, ...], issued: int | None) -> bool:
        everyone = set(chain) | {WORLD[n][1] for n in chain if WORLD[n][1]}
        return all(
            self.status[n] == "active" and (issued is None or issued > self.suspended_at.get(n, -1))
            for n in everyone
        )

    def suspend(self, name: str) -> bool:
        if self.status[name] != "active":
            return False
        self.clock += 1
        self.status[name] = "suspended"
        self.suspended_at[name] = self.clock
        self.changed[name] = self.clock
        return True

    def reactivate(self, name: str) -> None:
        if self.status[name] == "suspended":
            self.clock += 1
            self.status[name] = "active"
            self.changed[name] = self.clock

    def release(self, members: dict[str, int]) -> None:
        for name, when in members.items():
            if self.status[name] == "suspended" and self.changed[name] == when:
                self.reactivate(name)


@dataclass
class Token:
    raw: str
    chain: tuple[str, ...]  # current actor first
    issued: int
    revoked: bool = False
    jwt: bool = True


@dataclass
class Nodes:
    urls: list[str]
    admin: dict[str, str]


@pytest.fixture
def nodes(backend: str, settings: Any, db: Database, app: Any, installed: Any) -> Iterator[Nodes]:
    admin = {"Authorization": f"Bearer {installed.admin_token}"}
    if backend == "sqlite":
        with serve(app, port=settings.port) as live:
            yield Nodes([live.url], admin)
        return
    other = Database(settings.resolved_database_url)
    try:
        with (
            serve(app, port=settings.port) as a,
            serve(create_app(settings, database=other)) as b,
        ):
            yield Nodes([a.url, b.url], admin)
    finally:
        other.dispose()


def retried(send: Callable[[], httpx.Response]) -> httpx.Response:
    """``send()``, again while the node answers 503 with ``Retry-After``, as a client does:
    a node whose status view has not heard from the change feed within its bound (a
    loaded machine delays the feed's thread) refuses every credential rather than trust
    what it last knew, until it has caught up."""
    for _ in range(10):
        response = send()
        if response.status_code != 503 or "retry-after" not in response.headers:
            return response
        time.sleep(0.2)
    return response


@pytest.mark.parametrize("seed", SEEDS)
def test_every_token_is_honoured_iff_the_model_says_so(
    nodes: Nodes, make_identity: Any, make_client: Any, seed: int
) -> None:
    rng = random.Random(seed)
    here, admin = nodes.urls[0], nodes.admin
    # One connection per node: opening one per request would be most of the test's time.
    http = {url: httpx.Client(base_url=url, timeout=10) for url in nodes.urls}
    on = http[here]
    for name, (kind, owner) in WORLD.items():
        make_identity(
            name, kind=kind, owner=owner, **({"roles": ["viewer"]} if kind == "human" else {})
        )
    clients = {name: make_client(name, ["identities:read", "access:evaluate"]) for name in WORLD}
    policy = on.put(
        "/v1/policies/anyone-calls",
        json={"text": 'permit (principal, action == Limen::Action::"call", resource);'},
        headers=admin,
    )
    assert policy.status_code == 200, policy.text
    model = Model()
    tokens: list[Token] = []

    def grant(name: str) -> None:
        c = clients[name]
        r = on.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(c.client_id, c.secret),
        )
        ok = model.chain_ok((name,), None)
        assert (r.status_code == 200) == ok, (name, r.text, model)
        if ok:
            model.clock += 1
            tokens.append(Token(r.json()["access_token"], (name,), model.clock))

    def exchange(agent: str) -> None:
        owner = WORLD[agent][1]
        assert owner is not None
        subject = next(
            (t for t in reversed(tokens) if t.chain == (owner,) and t.jwt and not t.revoked),
            None,
        )
        if subject is None:
            return
        c = clients[agent]
        r = on.post(
            "/oauth2/token",
            data={
                "grant_type": EXCHANGE,
                "subject_token": subject.raw,
                "subject_token_type": ACCESS,
            },
            auth=(c.client_id, c.secret),
        )
        ok = model.chain_ok(subject.chain, subject.issued) and model.chain_ok((agent,), None)
        assert (r.status_code == 200) == ok, (agent, r.text)
        if ok:
            model.clock += 1
            tokens.append(Token(r.json()["access_token"], (agent, owner), model.clock))

    def opaque(name: str) -> None:
        r = on.post("/v1/tokens", json={"identity": name}, headers=admin)
        ok = model.status[name] == "active"
        assert (r.status_code == 201) == ok, r.text
        if ok:
            model.clock += 1
            tokens.append(Token(r.json()["token"], (name,), model.clock, jwt=False))

    def suspend(name: str, cascade: bool) -> None:
        r = on.post(f"/v1/identities/{name}/suspend", json={"cascade": cascade}, headers=admin)
        assert r.status_code == 200, r.text
        model.suspend(name)
        # Containment revokes the opaque tokens it holds, and with cascade its machines'.
        members = {}
        if cascade and WORLD[name][0] == "human":
            for other, (_, owner) in WORLD.items():
                if owner == name and model.suspend(other):
                    members[other] = model.changed[other]
            if members:
                model.cascades.setdefault(name, {}).update(members)
        for token in tokens:
            if not token.jwt and token.chain[0] in {name, *members}:
                token.revoked = True

    def reactivate(name: str, cascade: bool) -> None:
        r = on.post(f"/v1/identities/{name}/reactivate", json={"cascade": cascade}, headers=admin)
        assert r.status_code == 200, r.text
        model.reactivate(name)
        if cascade:
            model.release(model.cascades.pop(name, {}))

    def kill_switch(kind: str, engage: bool) -> None:
        verb = "engage" if engage else "disengage"
        r = on.post(f"/v1/killswitch/{verb}", json={"kind": kind}, headers=admin)
        if engage:
            assert r.status_code == 200, r.text
            held = model.switches.setdefault(kind, {})
            for name, (k, _) in WORLD.items():
                if k == kind and model.suspend(name):
                    held[name] = model.changed[name]
        elif kind in model.switches:
            assert r.status_code == 200, r.text
            model.release(model.switches.pop(kind))
        else:
            assert r.status_code == 409

    def revoke() -> None:
        live = [t for t in tokens if not t.revoked]
        if not live:
            return
        token = rng.choice(live)
        r = on.post("/oauth2/revoke", data={"token": token.raw}, headers=admin)
        assert r.status_code == 200
        token.revoked = True

    def expected(token: Token) -> bool:
        return not token.revoked and model.chain_ok(token.chain, token.issued)

    def honoured(url: str, token: Token) -> tuple[bool, bool, bool | None]:
        client = http[url]
        answer = retried(
            lambda: client.post("/oauth2/introspect", data={"token": token.raw}, headers=admin)
        )
        assert answer.status_code == 200 and "active" in answer.json(), (
            url,
            answer.status_code,
            answer.text,
        )
        introspected = answer.json()["active"]
        api = retried(
            lambda: client.get(
                f"/v1/identities/{token.chain[0]}",
                headers={"Authorization": f"Bearer {token.raw}"},
            )
        )
        assert api.status_code in (200, 401), (url, api.status_code, api.text)
        decided = None
        if token.jwt:
            answer = retried(
                lambda: client.post(
                    "/access/v1/evaluation",
                    json={
                        "subject": {"type": "identity", "id": token.chain[0]},
                        "action": {"name": "call"},
                        "resource": {"type": "tool", "id": "deploy"},
                        "context": {"token": token.raw},
                    },
                    headers=admin,
                )
            )
            assert answer.status_code == 200, (url, answer.status_code, answer.text)
            decided = answer.json()["decision"]
        return introspected, api.status_code == 200, decided

    def agrees(url: str, checked: list[Token]) -> bool:
        for token in checked:
            want = expected(token)
            got = honoured(url, token)
            if got != (want, want, want if token.jwt else None):
                return False
        return True

    humans = [n for n, (k, _) in WORLD.items() if k == "human"]
    agents = [n for n, (k, _) in WORLD.items() if k == "agent"]
    for _ in range(STEPS):
        name = rng.choice(list(WORLD))
        choice = rng.random()
        before = len(tokens)
        if choice < 0.25:
            grant(name)
        elif choice < 0.35:
            exchange(rng.choice(agents))
        elif choice < 0.45:
            opaque(name)
        elif choice < 0.60:
            suspend(rng.choice([name, *humans]), cascade=rng.random() < 0.5)
        elif choice < 0.75:
            reactivate(name, cascade=rng.random() < 0.5)
        elif choice < 0.85:
            kill_switch(rng.choice(["agent", "service"]), engage=rng.random() < 0.5)
        else:
            revoke()
        # A new token is checked on its own; any other step may change every token.
        checked = tokens[before:] if len(tokens) > before else list(tokens)
        for url in nodes.urls:
            # The node that made the change agrees at once; another within a moment.
            if url == here:
                assert agrees(url, checked), (seed, model, [(t.chain, expected(t)) for t in tokens])
            else:
                wait_for(lambda url=url, checked=checked: agrees(url, checked), seconds=2)
    for connection in http.values():
        connection.close()
