"""What a token service remembers of the tokens it verified, under token churn."""

from __future__ import annotations

import hashlib
import time

from limen.config import Settings
from limen.installation import InitResult
from limen.services import Services
from limen.store import Database
from limen.tokens.rfc9068.claims import TYP


def test_expired_tokens_are_forgotten_so_churn_does_not_grow_the_node(
    db: Database, settings: Settings, installed: InitResult
) -> None:
    """A node verifies each new token once and remembers its claims; tokens that have
    expired are forgotten, so thousands of them (a few days of credentials renewed every
    few minutes) leave hardly any behind. Soak runs saw the claims pile up, never shed."""
    services = Services.open(settings, database=db)
    try:
        service = services.tokens
        now = int(time.time())

        def token(n: int, exp: int) -> str:
            claims = {
                "iss": service.issuer,
                "sub": f"churned-{n}",
                "aud": service.issuer,
                "client_id": "churn",
                "jti": f"jti-{n}",
                "iat": now - 600,
                "exp": exp,
                "scope": "tools:call",
            }
            return service.keys.sign_jwt(claims, typ=TYP)

        live = token(0, now + 600)
        assert service.authentic(live).sub == "churned-0"
        for n in range(1, 2001):
            assert service.authentic(token(n, now - 1)).sub == f"churned-{n}"
        # At most one sweep's worth of expired tokens is left; the live one is kept.
        assert len(service._verified) <= 512
        assert service._verified.get(_digest(live)) is not None
    finally:
        services.close()


def _digest(raw: str) -> bytes:
    return hashlib.sha256(raw.encode()).digest()
