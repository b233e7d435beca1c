"""OAuth clients: register one for an identity, authenticate it, revoke it.

Client authentication methods (RFC 6749 §2.3, OpenID Connect Core §9):
``client_secret_basic``, ``client_secret_post`` and ``private_key_jwt`` (RFC 7523 §2.2).
The identity behind a client is checked on every use: a suspended identity's clients
authenticate no more.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, record
from limen.store import Lookup, Reader, UnitOfWork
from limen.store.models import Identity, IdentityKind, IdentityStatus, OAuthClient, utcnow
from limen.tokens.errors import ClientNotFound, InvalidClient, InvalidRequest
from limen.tokens.rfc7523 import (
    assertion_subject,
    validate_client_jwks,
    verify_client_assertion,
)

__all__ = [
    "AUTH_METHODS",
    "CLIENT_REVOKED_TOPIC",
    "CLIENT_SECRET_PREFIX",
    "AuthMethod",
    "AuthenticatedClient",
    "ClientCredentials",
    "ClientIdentity",
    "authenticate_client",
    "get_client",
    "list_clients",
    "register_client",
    "revoke_client",
]

AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post", "private_key_jwt")
CLIENT_SECRET_PREFIX: Final = "limen_cs_"  # noqa: S105 - a prefix, not a secret
CLIENT_REVOKED_TOPIC: Final = "oauth.client.revoked"
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")  # RFC 6749 §3.3 scope-token
# A secret's hash is computed even for unknown clients, so both answers take as long.
_DUMMY_HASH = hashlib.sha256(b"no such client").hexdigest()
# Built once, from the tables' columns rather than the ORM entities, and run as a lookup:
# this runs on every grant, where composing the statement, loading two ORM objects and
# the session around them cost more than the query.
_CLIENTS = OAuthClient.__table__.c
_IDENTITIES = Identity.__table__.c
_CLIENT_AND_IDENTITY: Final = Lookup(
    sa.select(
        _CLIENTS.client_id,
        _CLIENTS.auth_method,
        _CLIENTS.secret_hash,
        _CLIENTS.jwks,
        _CLIENTS.scopes,
        _CLIENTS.revoked_at,
        _IDENTITIES.id.label("identity_id"),
        _IDENTITIES.kind,
        _IDENTITIES.name,
        _IDENTITIES.owner_id,
        _IDENTITIES.status,
        _IDENTITIES.attributes,
    )
    .join_from(OAuthClient.__table__, Identity.__table__, _IDENTITIES.id == _CLIENTS.identity_id)
    .where(_CLIENTS.client_id == sa.bindparam("client_id"))
)


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What a request presented to authenticate a client (RFC 6749 §2.3)."""

    client_id: str | None = None
    client_secret: str | None = None
    method: str | None = None
    """``client_secret_basic``/``client_secret_post``/``private_key_jwt``; how it came."""
    client_assertion: str | None = None
    client_assertion_type: str | None = None


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """The identity an authenticated client acts as, as read when it authenticated."""

    id: str
    kind: IdentityKind
    name: str
    owner_id: str | None
    attributes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AuthenticatedClient:
    """A client that just authenticated: what a grant needs to know of it."""

    client_id: str
    scopes: tuple[str, ...]
    """The most it may be granted."""


def _hash_secret(secret: str) -> str:
    # Client secrets are 256 random bits we generated. A password KDF (Argon2) exists to
    # slow guessing of low-entropy secrets; against 2^256 possibilities it adds only
    # latency to every grant. SHA-256 is preimage-resistant, so the stored hash gives
    # nothing away; comparison is constant-time so timing leaks no hash prefix.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    cleaned = sorted({s.strip() for s in scopes if s and s.strip()})
    for scope in cleaned:
        if not _SCOPE.match(scope):
            raise InvalidRequest(f"{scope[:40]!r} is not a valid scope token (RFC 6749 §3.3)")
    return cleaned


def register_client(
    uow: UnitOfWork,
    actor: Actor,
    identity: Identity,
    *,
    scopes: Iterable[str],
    auth_method: str = "client_secret_basic",
    name: str | None = None,
    jwks: dict[str, Any] | None = None,
) -> tuple[OAuthClient, str | None]:
    """Register a client acting as ``identity``; returns ``(client, secret)``.

    The secret is returned here once and stored only as a hash; it is ``None`` for
    ``private_key_jwt`` clients, which register their public keys in ``jwks`` instead.
    The client may be granted at most ``scopes``.
    """
    if auth_method not in AUTH_METHODS:
        raise InvalidRequest(f"auth method must be one of {', '.join(AUTH_METHODS)}")
    if not identity.is_active:
        raise InvalidRequest(
            f"{identity.name!r} is {identity.status}; clients need an active identity"
        )
    scope_list = validate_scopes(scopes)
    secret: str | None = None
    secret_hash: str | None = None
    if auth_method == "private_key_jwt":
        jwks = _validate_jwks(jwks)
    else:
        if jwks is not None:
            raise InvalidRequest("jwks is only for private_key_jwt clients")
        secret = CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)
        secret_hash = _hash_secret(secret)
    client = OAuthClient(
        identity_id=identity.id,
        name=name,
        auth_method=auth_method,
        secret_hash=secret_hash,
        jwks=jwks,
        scopes=scope_list,
    )
    uow.session.add(client)
    uow.flush()
    record(
        uow.session,
        actor,
        "oauth.client.create",
        resource_type="oauth_client",
        resource_id=client.client_id,
        resource_name=name,
        context={"identity_id": identity.id, "auth_method": auth_method, "scopes": scope_list},
    )
    return client, secret


def get_client(session: Session, client_id: str) -> OAuthClient:
    client = session.get(OAuthClient, client_id) if client_id else None
    if client is None:
        raise ClientNotFound(f"no OAuth client {client_id!r}")
    return client


def list_clients(session: Session, *, identity_id: str | None = None) -> Sequence[OAuthClient]:
    query = sa.select(OAuthClient).order_by(OAuthClient.created_at, OAuthClient.client_id)
    if identity_id:
        query = query.where(OAuthClient.identity_id == identity_id)
    return list(session.scalars(query))


def revoke_client(uow: UnitOfWork, actor: Actor, client_id: str) -> OAuthClient:
    """Revoke a client: it authenticates no more and the tokens it holds stop working.

    Idempotent. Every node hears of it through ``oauth.client.revoked``.
    """
    client = get_client(uow.session, client_id)
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        record(
            uow.session,
            actor,
            "oauth.client.revoke",
            resource_type="oauth_client",
            resource_id=client.client_id,
            resource_name=client.name,
        )
        uow.publish(CLIENT_REVOKED_TOPIC, {"id": client.client_id})
    return client


def authenticate_client(
    reader: Reader | Session,
    credentials: ClientCredentials,
    *,
    token_endpoint: str,
    now: datetime | None = None,
) -> tuple[AuthenticatedClient, ClientIdentity]:
    """Authenticate a client by the method it registered; raise :class:`InvalidClient`.

    The client's identity must be active. ``token_endpoint`` is the audience a
    ``private_key_jwt`` assertion must name (RFC 7523 §3). Every failure is the same
    ``invalid_client``, so callers cannot probe which client ids exist. Reads one row,
    through ``reader`` (``Database.reading()``) or a unit of work's session.
    """
    now = now or utcnow()
    client_id = credentials.client_id
    if credentials.client_assertion is not None:
        client_id = assertion_subject(
            credentials.client_assertion, credentials.client_assertion_type
        )
        if credentials.client_id and credentials.client_id != client_id:
            raise InvalidClient("client authentication failed")
    if not client_id or len(client_id) > 64:
        raise InvalidClient("client authentication failed")
    row = _CLIENT_AND_IDENTITY.first(reader, client_id=client_id)
    if row is None:
        if credentials.client_secret is not None:
            hmac.compare_digest(_hash_secret(credentials.client_secret), _DUMMY_HASH)
        raise InvalidClient("client authentication failed")
    if row.auth_method == "private_key_jwt":
        if credentials.client_assertion is None:
            raise InvalidClient("client authentication failed")
        verify_client_assertion(
            credentials.client_assertion,
            row.jwks or {},
            client_id=row.client_id,
            audience=token_endpoint,
            now=now,
        )
    else:
        secret = credentials.client_secret
        # The registered method is the only one accepted (RFC 7591 §2
        # token_endpoint_auth_method), except that basic and post carry the same secret.
        if secret is None or credentials.method not in (
            "client_secret_basic",
            "client_secret_post",
        ):
            raise InvalidClient("client authentication failed")
        if not hmac.compare_digest(_hash_secret(secret), row.secret_hash or _DUMMY_HASH):
            raise InvalidClient("client authentication failed")
    if row.revoked_at is not None or row.status is not IdentityStatus.ACTIVE:
        raise InvalidClient("client authentication failed")
    return (
        AuthenticatedClient(client_id=row.client_id, scopes=tuple(row.scopes or ())),
        ClientIdentity(
            id=row.identity_id,
            kind=row.kind,
            name=row.name,
            owner_id=row.owner_id,
            attributes=row.attributes or {},
        ),
    )


def _validate_jwks(jwks: dict[str, Any] | None) -> dict[str, Any]:
    if jwks is None:
        raise InvalidRequest("private_key_jwt clients must register their public keys (jwks)")
    return validate_client_jwks(jwks)
