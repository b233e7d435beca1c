"""Builders for token and access tests: identities and OAuth clients made through the domain
services, registered as fixtures by the conftest of each test package that uses them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from limen import identity, tokens
from limen.audit import Actor
from limen.store import Database


@dataclass
class Client:
    client_id: str
    secret: str | None
    identity_id: str


@pytest.fixture
def make_identity(db: Database, installed: Any) -> Any:
    def make(name: str, *, kind: str = "human", owner: str | None = None, **extra: Any) -> str:
        with db.unit_of_work() as uow:
            row = identity.create(uow, Actor.operator(), kind=kind, name=name, owner=owner, **extra)
            return row.id

    return make


@pytest.fixture
def make_client(db: Database, installed: Any) -> Any:
    def make(
        who: str,
        scopes: list[str],
        *,
        auth_method: str = "client_secret_basic",
        jwks: dict[str, Any] | None = None,
    ) -> Client:
        with db.unit_of_work() as uow:
            row = identity.get(uow.session, who)
            client, secret = tokens.register_client(
                uow,
                Actor.operator(),
                row,
                scopes=scopes,
                auth_method=auth_method,
                name=who,
                jwks=jwks,
            )
            return Client(client.client_id, secret, row.id)

    return make


def grant(client: TestClient, c: Client, *, scope: str | None = None, **extra: str) -> Any:
    data: dict[str, str] = {"grant_type": "client_credentials", **extra}
    if scope is not None:
        data["scope"] = scope
    assert c.secret is not None
    return client.post("/oauth2/token", data=data, auth=(c.client_id, c.secret))
