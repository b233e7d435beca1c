"""OAuth storage: signing keys, registered clients, revoked access tokens.

Access tokens themselves are not stored: they are signed JWTs, and the event log
records each issuance. Only revocations need a row, kept until the token would have
expired anyway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from limen.ids import new_id
from limen.store.models.base import Base, utcnow

__all__ = ["AssertionJti", "OAuthClient", "RevokedToken", "SigningKey"]


class SigningKey(Base):
    """An Ed25519 key pair; the private half is sealed with a key derived from the root key."""

    __tablename__ = "token_signing_keys"

    kid: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    alg: Mapped[str] = mapped_column(String(16), default="EdDSA")
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]
    """When the key stopped signing; it stays in the JWKS while its tokens can be valid."""


class OAuthClient(Base):
    """A registered OAuth client acting as one identity."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    auth_method: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Public keys for ``private_key_jwt`` (RFC 7523)."""
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class RevokedToken(Base):
    """A JWT access token revoked before it expired (RFC 7009)."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    identity_id: Mapped[str | None] = mapped_column(String(26))
    client_id: Mapped[str | None] = mapped_column(String(26))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssertionJti(Base):
    """A client assertion already used (RFC 7523 §3 item 7), kept until it expires.

    In the database rather than in a process, so that an assertion used on one node (or
    worker) is refused on every other: the primary key decides which use was first.
    """

    __tablename__ = "assertion_jtis"

    client_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    jti_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the ``jti`` (hex): a client picks the ``jti``, and its length with it."""
    expires_at: Mapped[datetime] = mapped_column(index=True)
