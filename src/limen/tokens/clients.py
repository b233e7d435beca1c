"""OAuth clients: register one for an identity, authenticate it, revoke it.

Client authentication methods (RFC 6749 §2.3, OpenID Connect Core §9):
``client_secret_basic``, ``client_secret_post`` and ``private_key_jwt`` (RFC 7523 §2.2).
The identity behind a client is checked on every use, against the status view: a
suspended identity's clients (or a suspended owner's machines' clients) authenticate no
more.
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

from limen.audit import Actor, Authorizer, Resource, record
from limen.errors import Unavailable, unknown_choice
from limen.identity.status import CLIENT_REVOKED_TOPIC, StatusView
from limen.store import Database, Lookup, Reader, UnitOfWork
from limen.store.models import Identity, IdentityKind, OAuthClient, utcnow
from limen.tokens.errors import ClientNotFound, ClientRevoked, InvalidClient, InvalidRequest
from limen.tokens.rfc7523 import (
    UsedAssertions,
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
    "Clients",
    "authenticate_client",
    "get_client",
    "list_clients",
    "register_client",
    "revoke_client",
    "rotate_client_secret",
]

AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post", "private_key_jwt")
CLIENT_SECRET_PREFIX: Final = "limen_cs_"  # noqa: S105 - a prefix, not a secret
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")  # RFC 6749 §3.3 scope-token
# A secret's hash is computed even for unknown clients, so both answers take as long.
_DUMMY_HASH = hashlib.sha256(b"no such client").hexdigest()
# Built once, from the tables' columns rather than the ORM entities, and run as a lookup:
# this runs on every grant, where composing the statement, loading two ORM objects and
# the session around them cost more than the query.
_CLIENT: Final = Lookup(
    sa.select(
        OAuthClient.client_id,
        OAuthClient.identity_id,
        OAuthClient.auth_method,
        OAuthClient.secret_hash,
        OAuthClient.jwks,
        OAuthClient.scopes,
        OAuthClient.revoked_at,
    ).where(OAuthClient.client_id == sa.bindparam("client_id"))
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
    """The identity an authenticated client acts as, as the status view knows it."""

    id: str
    kind: IdentityKind
    name: str
    owner_id: str | None
    attributes: Mapping[str, Any]
    partner: bool = False


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
        raise InvalidRequest(unknown_choice("auth method", auth_method, AUTH_METHODS))
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

    Idempotent. Every node hears of it (the status view's hook publishes the change).
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
    return client


def rotate_client_secret(uow: UnitOfWork, actor: Actor, client_id: str) -> tuple[OAuthClient, str]:
    """Give a client a new secret; returns ``(client, secret)``, the secret once.

    The old secret authenticates no more from the commit on (every grant reads the
    client's row); tokens already issued keep their lifetime, as after any rotation.
    A revoked client stays revoked, and a ``private_key_jwt`` client has no secret: it
    registers new public keys instead.
    """
    client = get_client(uow.session, client_id)
    if client.revoked_at is not None:
        raise ClientRevoked(f"OAuth client {client.client_id!r} is revoked")
    if client.auth_method == "private_key_jwt":
        raise InvalidRequest("a private_key_jwt client has no secret to rotate")
    secret = CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)
    client.secret_hash = _hash_secret(secret)
    record(
        uow.session,
        actor,
        "oauth.client.rotate",
        resource_type="oauth_client",
        resource_id=client.client_id,
        resource_name=client.name,
        context={"identity_id": client.identity_id},
    )
    return client, secret


def authenticate_client(
    reader: Reader | Session,
    credentials: ClientCredentials,
    *,
    status: StatusView,
    token_endpoints: Sequence[str],
    used_assertions: UsedAssertions,
    now: datetime | None = None,
) -> tuple[AuthenticatedClient, ClientIdentity]:
    """Authenticate a client by the method it registered; raise :class:`InvalidClient`.

    The client's identity must be in good standing (active, its owner too, not held by a
    kill switch), as the status view says; while the view cannot vouch for that,
    :class:`~limen.errors.Unavailable`. ``token_endpoints`` are what a
    ``private_key_jwt`` assertion's ``aud`` may name (RFC 7523 §3); ``used_assertions``
    refuses one used before, on any node. Every failure is the
    same ``invalid_client``, so callers cannot probe which client ids exist; its
    ``reason`` says why, for the audit trail. Reads one row, through ``reader``
    (``Database.reading()``) or a unit of work's session.
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
    row = _CLIENT.first(reader, client_id=client_id)
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
            audiences=token_endpoints,
            now=now,
            used=used_assertions,
        )
    else:
        secret = credentials.client_secret
        # The registered method is the only one accepted (RFC 7591 §2
        # token_endpoint_auth_method, OpenID Connect Core §9): a secret registered for
        # HTTP Basic sent in the form body is refused, and the other way round.
        if secret is None or credentials.method != row.auth_method:
            raise InvalidClient("client authentication failed")
        if not hmac.compare_digest(_hash_secret(secret), row.secret_hash or _DUMMY_HASH):
            raise InvalidClient("client authentication failed")
    if row.revoked_at is not None:
        raise _refused("client revoked")
    status.ensure((row.identity_id,))  # made a moment ago on another node?
    why = status.refusal((row.identity_id,), client_id=row.client_id)
    if why == "stale":
        raise Unavailable("identity status cannot be confirmed right now; retry shortly")
    if why is not None:
        raise _refused(why)
    info = status.identity(row.identity_id)
    assert info is not None  # refusal() checked it exists
    return (
        AuthenticatedClient(client_id=row.client_id, scopes=tuple(row.scopes or ())),
        ClientIdentity(
            id=info.id,
            kind=IdentityKind(info.kind),
            name=info.name,
            owner_id=info.owner_id,
            attributes=info.attributes,
            partner=info.partner,
        ),
    )


def _refused(reason: str) -> InvalidClient:
    error = InvalidClient("client authentication failed")
    error.reason = reason  # type: ignore[attr-defined]
    return error


def _validate_jwks(jwks: dict[str, Any] | None) -> dict[str, Any]:
    if jwks is None:
        raise InvalidRequest("private_key_jwt clients must register their public keys (jwks)")
    return validate_client_jwks(jwks)


class Clients:
    """Register, list and revoke OAuth clients on behalf of an actor (asks the guard)."""

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def register(
        self,
        actor: Actor,
        identity_ref: str,
        *,
        scopes: Iterable[str],
        auth_method: str = "client_secret_basic",
        name: str | None = None,
        jwks: dict[str, Any] | None = None,
    ) -> tuple[OAuthClient, str | None]:
        from limen import identity as identities

        with self._db.unit_of_work(readonly=True) as uow:
            holder = identities.get(uow.session, identity_ref)
        self._guard.authorize(actor, "client.create", Resource("identity", holder.id, holder.name))
        with self._db.unit_of_work() as uow:
            return register_client(
                uow,
                actor,
                identities.get(uow.session, holder.id),
                scopes=scopes,
                auth_method=auth_method,
                name=name,
                jwks=jwks,
            )

    def list(
        self, actor: Actor, *, identity_ref: str | None = None
    ) -> list[tuple[OAuthClient, str]]:
        """Clients (with their identity's name), oldest first."""
        from limen import identity as identities

        self._guard.authorize(actor, "client.read", Resource("oauth_client"))
        with self._db.unit_of_work(readonly=True) as uow:
            identity_id = identities.get(uow.session, identity_ref).id if identity_ref else None
            clients = list_clients(uow.session, identity_id=identity_id)
            names = dict(
                uow.session.execute(
                    sa.select(Identity.id, Identity.name).where(
                        Identity.id.in_({c.identity_id for c in clients})
                    )
                ).all()
            )
        return [(client, names.get(client.identity_id, "")) for client in clients]

    def get(self, actor: Actor, client_id: str) -> tuple[OAuthClient, str]:
        """One client (with its identity's name); never its secret."""
        with self._db.unit_of_work(readonly=True) as uow:
            client = get_client(uow.session, client_id)
            name = uow.session.get(Identity, client.identity_id)
        self._guard.authorize(
            actor, "client.read", Resource("oauth_client", client.client_id, client.name)
        )
        return client, name.name if name is not None else ""

    def rotate(self, actor: Actor, client_id: str) -> tuple[OAuthClient, str]:
        """A new secret for a client; the old one stops working at once."""
        with self._db.unit_of_work(readonly=True) as uow:
            found = get_client(uow.session, client_id)
        self._guard.authorize(
            actor, "client.rotate", Resource("oauth_client", found.client_id, found.name)
        )
        with self._db.unit_of_work() as uow:
            return rotate_client_secret(uow, actor, found.client_id)

    def revoke(self, actor: Actor, client_id: str) -> OAuthClient:
        with self._db.unit_of_work(readonly=True) as uow:
            found = get_client(uow.session, client_id)
        self._guard.authorize(
            actor, "client.revoke", Resource("oauth_client", found.client_id, found.name)
        )
        with self._db.unit_of_work() as uow:
            return revoke_client(uow, actor, found.client_id)
