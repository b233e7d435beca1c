"""The claims of a Limen access token (RFC 9068 §2.2) and the ``act`` chain (RFC 8693 §4.1).

https://www.rfc-editor.org/rfc/rfc9068#section-2.2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from limen.tokens.errors import InvalidAccessToken

__all__ = ["TYP", "AccessTokenClaims"]

TYP: Final = "at+jwt"
"""RFC 9068 §2.1: access tokens carry ``typ: at+jwt`` so they cannot pass for ID tokens."""


@dataclass(frozen=True, slots=True)
class AccessTokenClaims:
    """``iss, exp, aud, sub, client_id, iat, jti`` are required by RFC 9068 §2.2; ``scope``
    by §2.2.3. ``act`` (RFC 8693 §4.1) says who acts on ``sub``'s behalf: its ``sub`` is
    the current actor, a nested ``act`` the one before.
    """

    iss: str
    sub: str
    aud: tuple[str, ...]
    client_id: str
    jti: str
    iat: int
    exp: int
    scope: tuple[str, ...] = ()
    act: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_jwt(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.iss,
            "sub": self.sub,
            "aud": self.aud[0] if len(self.aud) == 1 else list(self.aud),
            "exp": self.exp,
            "iat": self.iat,
            "jti": self.jti,
            "client_id": self.client_id,
            "scope": " ".join(self.scope),
        }
        if self.act:
            claims["act"] = self.act
        claims.update(self.extra)
        return claims

    @classmethod
    def from_jwt(cls, claims: dict[str, Any]) -> AccessTokenClaims:
        """Read verified claims; a token lacking a required claim is not valid."""
        try:
            aud = claims["aud"]
            audiences = tuple(aud) if isinstance(aud, list) else (aud,)
            scope = claims.get("scope", "")
            act = claims.get("act")
            values = cls(
                iss=str(claims["iss"]),
                sub=str(claims["sub"]),
                aud=tuple(str(a) for a in audiences),
                client_id=str(claims["client_id"]),
                jti=str(claims["jti"]),
                iat=int(claims["iat"]),
                exp=int(claims["exp"]),
                scope=tuple(scope.split()) if isinstance(scope, str) else (),
                act=act if isinstance(act, dict) else None,
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidAccessToken("the access token is not valid") from None
        return values

    @property
    def actors(self) -> tuple[str, ...]:
        """Identity ids in the ``act`` chain, current actor first."""
        chain: list[str] = []
        node = self.act
        while isinstance(node, dict) and len(chain) < 10:
            sub = node.get("sub")
            if isinstance(sub, str):
                chain.append(sub)
            node = node.get("act")
        return tuple(chain)

    @property
    def acting_identity(self) -> str:
        """Who is acting now: the current actor if delegated, else the subject."""
        actors = self.actors
        return actors[0] if actors else self.sub
