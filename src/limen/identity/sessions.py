"""Browser sessions: a personal access token exchanged for a sealed session cookie.

The console signs a person in with an access token, issues a session token for the same
identity (an opaque token, purpose ``console``, that expires with the session), and
hands the browser a cookie that holds both sealed (AES-256-GCM) under a key derived from
the root key file, with an expiry and the session's CSRF secret. Each request opens the
cookie and authenticates both tokens exactly as the API authenticates a bearer token, so
revoking the access token, suspending its identity or engaging a kill switch ends the
session at once, and signing out revokes the session token on every node.

Without a key file (a passphrase-only setup) the key is made per process: sessions then
end when the server restarts, and do not cross nodes.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from limen.errors import Unauthenticated

__all__ = ["BrowserSession", "BrowserSessions"]

_INFO = b"limen console session v1"
_AAD = b"limen-console-session"


@dataclass(frozen=True, slots=True)
class BrowserSession:
    """An opened session cookie: the token to authenticate, and what protects forms."""

    token: str
    """The access token the person signed in with."""
    session_token: str
    """The session's own token: signing out revokes it."""
    csrf: str
    expires_at: float
    """Seconds since the epoch."""


class BrowserSessions:
    """Seal and open session cookies."""

    def __init__(self, root_key: bytes | None, *, ttl: timedelta) -> None:
        material = root_key if root_key is not None else os.urandom(32)
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material)
        self._aead = AESGCM(key)
        self.ttl = ttl

    def seal(
        self, token: str, session_token: str, *, expires_at: float
    ) -> tuple[str, BrowserSession]:
        """A new session for ``token``: the cookie value and what it holds."""
        session = BrowserSession(
            token=token,
            session_token=session_token,
            csrf=secrets.token_urlsafe(24),
            expires_at=expires_at,
        )
        body = json.dumps(
            {"t": token, "s": session_token, "c": session.csrf, "e": session.expires_at}
        )
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, body.encode(), _AAD)
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("="), session

    def open(self, cookie: str, *, now: float | None = None) -> BrowserSession:
        """The session in ``cookie``; :class:`~limen.errors.Unauthenticated` if it was
        not sealed here or has expired."""
        try:
            raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
            body = json.loads(self._aead.decrypt(raw[:12], raw[12:], _AAD))
            session = BrowserSession(
                str(body["t"]), str(body["s"]), str(body["c"]), float(body["e"])
            )
        except (ValueError, KeyError, TypeError, InvalidTag):
            raise Unauthenticated("the console session is not valid: sign in again") from None
        if session.expires_at <= (now if now is not None else time.time()):
            raise Unauthenticated("the console session has expired: sign in again")
        return session
