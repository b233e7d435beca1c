"""Token signing keys: Ed25519 (JWS ``EdDSA``) and, for Shared Signals receivers that
need it, RSA (``RS256``); kept sealed in the database, rotated, published.

- The private key is stored only sealed (AES-256-GCM) under a key derived from the
  installation's root key file (``keyfile.derive_key(root, "limen token signing v1")``),
  so a database dump alone cannot mint tokens.
- The newest key signs. :meth:`SigningKeys.rotate` retires it; a retired key stays in
  the JWKS until every token it could have signed has expired (``retired_at`` plus the
  longest token lifetime), so resource servers holding a cached JWKS keep verifying.
- Other nodes hear of a rotation through the ``token.keys`` topic and reload.

JWS compact serialisation (RFC 7515 §7.1) and EdDSA (RFC 8037 §3.1) are done here with
``cryptography`` directly: joserfc's verification would dominate every authenticated
request (``benchmarks/tokens.py``). Tests verify these tokens with joserfc
against the served JWKS, so the two stay interchangeable.

RS256 (RFC 7518 §3.3) signs only what a peer asks for it: the CAEP interoperability
profile's Security Event Tokens (2048-bit keys, §2.6 of the profile). Those are signed by
joserfc; Limen never verifies an RS256 token (access tokens are EdDSA only). The RSA key
is made on first use, sealed like the Ed25519 one, published in the same JWKS, and
retired by the same :meth:`SigningKeys.rotate`.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jwt
from joserfc.jwk import RSAKey

from limen.audit import Actor, record
from limen.ids import new_id
from limen.store import Database, UnitOfWork
from limen.store.models import SigningKey, utcnow
from limen.tokens import _seal
from limen.tokens.errors import InvalidAccessToken

__all__ = [
    "ALGORITHMS",
    "KEYS_TOPIC",
    "MAX_JWT_BYTES",
    "SigningKeys",
    "b64url_decode",
    "b64url_encode",
]

KEYS_TOPIC: Final = "token.keys"
"""Published after a rotation; payload ``{"kid"}``. Every node reloads its key ring."""

MAX_JWT_BYTES: Final = 8192
ALG: Final = "EdDSA"
RS256: Final = "RS256"
ALGORITHMS: Final = (ALG, RS256)
"""What :meth:`SigningKeys.sign_jwt` signs with."""
_RSA_BITS = 2048  # RFC 7518 §3.3: 2048 or larger; the CAEP interop profile's minimum
_LEEWAY = timedelta(seconds=60)
_MISS_RELOAD_INTERVAL_S = 1.0


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if "=" in text:
        raise ValueError("padding is not allowed in base64url JWS segments")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    public: Ed25519PublicKey
    public_jwk: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None
    private: Ed25519PrivateKey | None


@dataclass(frozen=True, slots=True)
class _RsaKey:
    kid: str
    public_jwk: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None
    private: RSAKey | None


class SigningKeys:
    """The installation's key ring.

    ``max_token_ttl`` is the longest lifetime of anything signed with these keys; a
    retired key is published that much longer (plus a minute of clock leeway).
    """

    def __init__(self, db: Database, *, root_key: bytes, max_token_ttl: timedelta) -> None:
        self._db = db
        self._wrap = _seal.wrapping_key(root_key)
        self._max_ttl = max_token_ttl
        self._lock = threading.RLock()
        self._keys: dict[str, _Key] = {}
        self._current: _Key | None = None
        self._rsa: dict[str, _RsaKey] = {}
        self._rsa_current: _RsaKey | None = None
        self._loaded = False
        self._next_miss_reload = 0.0
        self.generation = 0
        """Bumped on every reload of the key ring; what was verified before is re-checked."""
        db.broadcaster.subscribe(KEYS_TOPIC, self._on_rotated)

    # -- reading -----------------------------------------------------------------

    def reload(self) -> None:
        """Read the key ring from the database (after a rotation elsewhere)."""
        with self._db.unit_of_work(readonly=True) as uow:
            rows = list(uow.session.scalars(sa.select(SigningKey).order_by(SigningKey.created_at)))
        keys: dict[str, _Key] = {}
        current: _Key | None = None
        rsa: dict[str, _RsaKey] = {}
        rsa_current: _RsaKey | None = None
        for row in rows:
            if row.alg == RS256:
                rsa_private = None
                if row.retired_at is None:
                    pem = _seal.unseal(self._wrap, row.sealed_private_key, aad=row.kid)
                    rsa_private = RSAKey.import_key(pem)
                held = _RsaKey(
                    row.kid, dict(row.public_jwk), row.created_at, row.retired_at, rsa_private
                )
                rsa[row.kid] = held
                if rsa_private is not None and (
                    rsa_current is None or held.created_at >= rsa_current.created_at
                ):
                    rsa_current = held
                continue
            private = None
            if row.retired_at is None:
                raw = _seal.unseal(self._wrap, row.sealed_private_key, aad=row.kid)
                private = Ed25519PrivateKey.from_private_bytes(raw)
            public = Ed25519PublicKey.from_public_bytes(b64url_decode(row.public_jwk["x"]))
            key = _Key(
                row.kid, public, dict(row.public_jwk), row.created_at, row.retired_at, private
            )
            keys[row.kid] = key
            if private is not None and (current is None or key.created_at >= current.created_at):
                current = key
        with self._lock:
            self._keys = keys
            self._current = current
            self._rsa = rsa
            self._rsa_current = rsa_current
            self._loaded = True
            self.generation += 1

    def _ensure(self) -> _Key:
        with self._lock:
            if not self._loaded:
                self.reload()
            if self._current is None:
                with self._db.unit_of_work() as uow:
                    self._create(uow, Actor.system("limen tokens"))
                self.reload()
            assert self._current is not None
            return self._current

    def _ensure_rsa(self) -> _RsaKey:
        self._ensure()
        with self._lock:
            if self._rsa_current is None:
                with self._db.unit_of_work() as uow:
                    self._create_rsa(uow, Actor.system("limen tokens"))
                self.reload()
            assert self._rsa_current is not None
            return self._rsa_current

    def retain_for(self, lifetime: timedelta) -> None:
        """Publish retired keys at least ``lifetime`` longer (a signer with longer-lived
        tokens shares these keys: partner tokens, SETs)."""
        with self._lock:
            self._max_ttl = max(self._max_ttl, lifetime)

    def current_kid(self) -> str:
        return self._ensure().kid

    def jwks(self, *, now: datetime | None = None) -> dict[str, Any]:
        """RFC 7517 §5 JWK Set: the current key and every retired key still needed."""
        self._ensure()
        now = now or utcnow()
        with self._lock:
            held: list[tuple[datetime, datetime | None, dict[str, Any]]] = [
                (k.created_at, k.retired_at, {**k.public_jwk, "use": "sig", "alg": ALG})
                for k in self._keys.values()
            ]
            held += [
                (k.created_at, k.retired_at, {**k.public_jwk, "use": "sig", "alg": RS256})
                for k in self._rsa.values()
            ]
        held.sort(key=lambda entry: entry[0], reverse=True)
        keys = [
            jwk
            for _, retired_at, jwk in held
            if retired_at is None or retired_at + self._max_ttl + _LEEWAY > now
        ]
        return {"keys": keys}

    # -- signing and verifying ---------------------------------------------------

    def sign_jwt(self, claims: Mapping[str, Any], *, typ: str, alg: str = ALG) -> str:
        """Sign ``claims`` as a compact JWS with the current key of ``alg`` (``kid`` in the
        header): ``EdDSA``, or ``RS256`` (signed by joserfc) for a peer that needs it.

        ``typ`` is the JOSE header type: ``at+jwt`` for access tokens (RFC 9068 §2.1),
        ``secevent+jwt`` for Security Event Tokens (RFC 8417 §2.3).
        """
        if alg == RS256:
            rsa = self._ensure_rsa()
            assert rsa.private is not None
            header = {"alg": RS256, "typ": typ, "kid": rsa.kid}
            return jwt.encode(header, dict(claims), rsa.private, algorithms=[RS256])
        if alg != ALG:
            raise ValueError(f"cannot sign with {alg!r}; one of {', '.join(ALGORITHMS)}")
        key = self._ensure()
        assert key.private is not None
        header = {"alg": ALG, "typ": typ, "kid": key.kid}
        signing_input = (
            b64url_encode(_compact_json(header)) + "." + b64url_encode(_compact_json(claims))
        )
        signature = key.private.sign(signing_input.encode("ascii"))
        return signing_input + "." + b64url_encode(signature)

    def verify_jwt(self, token: str, *, typ: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Check the signature and header of a JWS we signed; return ``(header, claims)``.

        Checks nothing in the claims: expiry, audience and status are the caller's.
        Raises :class:`InvalidAccessToken` for every failure, without saying which.
        """
        if len(token) > MAX_JWT_BYTES or token.count(".") != 2:
            raise InvalidAccessToken("the access token is not valid")
        head_b64, body_b64, sig_b64 = token.split(".")
        try:
            header = json.loads(b64url_decode(head_b64))
            signature = b64url_decode(sig_b64)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise InvalidAccessToken("the access token is not valid") from None
        # Only our own algorithm: never trust the header to choose (no "none", no HMAC
        # with a public key as secret). "crit" extensions are refused as RFC 7515 §4.1.11 asks.
        if (
            not isinstance(header, dict)
            or header.get("alg") != ALG
            or "crit" in header
            or str(header.get("typ", "")).lower().removeprefix("application/") != typ
        ):
            raise InvalidAccessToken("the access token is not valid")
        key = self._key(str(header.get("kid", "")))
        if key is None:
            raise InvalidAccessToken("the access token is not valid")
        try:
            key.public.verify(signature, f"{head_b64}.{body_b64}".encode("ascii"))
            claims = json.loads(b64url_decode(body_b64))
        except (InvalidSignature, ValueError, binascii.Error, UnicodeDecodeError):
            raise InvalidAccessToken("the access token is not valid") from None
        if not isinstance(claims, dict):
            raise InvalidAccessToken("the access token is not valid")
        return header, claims

    def _key(self, kid: str) -> _Key | None:
        self._ensure()
        with self._lock:
            key = self._keys.get(kid)
        if key is None and kid and self._may_reload_for_miss():
            # A key made on another node moments ago; its NOTIFY may still be in flight.
            self.reload()
            with self._lock:
                key = self._keys.get(kid)
        return key

    def _may_reload_for_miss(self) -> bool:
        """At most one database read a second for unknown ``kid``s: anyone can send tokens
        with made-up key ids, and each must not cost a read of the key ring."""
        now = time.monotonic()
        with self._lock:
            if now < self._next_miss_reload:
                return False
            self._next_miss_reload = now + _MISS_RELOAD_INTERVAL_S
            return True

    # -- rotation ----------------------------------------------------------------

    def rotate(self, uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> str:
        """Retire the signing key and make a new one; returns the new ``kid``.

        The retired key's sealed private half is destroyed: it will never sign again.
        """
        now = now or utcnow()
        for row in uow.session.scalars(
            sa.select(SigningKey).where(SigningKey.retired_at.is_(None))
        ):
            row.retired_at = now
            row.sealed_private_key = b""
            record(
                uow.session,
                actor,
                "token.key.retire",
                resource_type="signing_key",
                resource_id=row.kid,
            )
        kid = self._create(uow, actor, now=now)
        uow.publish(KEYS_TOPIC, {"kid": kid})
        uow.after_commit(self.reload)
        return kid

    def _create(self, uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> str:
        private = Ed25519PrivateKey.generate()
        kid = new_id()
        public_raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        private_raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public_raw), "kid": kid}
        uow.session.add(
            SigningKey(
                kid=kid,
                alg=ALG,
                public_jwk=jwk,
                sealed_private_key=_seal.seal(self._wrap, private_raw, aad=kid),
                created_at=now or utcnow(),
            )
        )
        uow.flush()
        record(uow.session, actor, "token.key.create", resource_type="signing_key", resource_id=kid)
        return kid

    def _create_rsa(self, uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> str:
        private = RSAKey.generate_key(_RSA_BITS, auto_kid=False)
        kid = new_id()
        jwk = {**private.as_dict(private=False), "kid": kid}
        uow.session.add(
            SigningKey(
                kid=kid,
                alg=RS256,
                public_jwk=jwk,
                sealed_private_key=_seal.seal(self._wrap, private.as_pem(private=True), aad=kid),
                created_at=now or utcnow(),
            )
        )
        uow.flush()
        record(uow.session, actor, "token.key.create", resource_type="signing_key", resource_id=kid)
        return kid

    def _on_rotated(self, _payload: Any) -> None:
        self.reload()


def _compact_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
