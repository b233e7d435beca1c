"""Every table Limen stores, one module per concept."""

from limen.store.models.api_token import ApiToken
from limen.store.models.base import Base, utcnow
from limen.store.models.event import Event
from limen.store.models.identity import Identity, IdentityKind, IdentityStatus
from limen.store.models.installation import Installation

__all__ = [
    "ApiToken",
    "Base",
    "Event",
    "Identity",
    "IdentityKind",
    "IdentityStatus",
    "Installation",
    "utcnow",
]
