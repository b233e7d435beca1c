"""Response: contain identities at machine speed and tell other systems (Shared Signals).

See ``containment`` (suspend with cascade, kill switch) and ``ssf`` (the OpenID Shared
Signals transmitter).
"""

from limen.respond.containment import (
    KILL_SWITCH_KINDS,
    Contained,
    contain,
    disengage,
    engage,
    engaged_kill_switches,
    find,
    release,
)
from limen.respond.directory import DirectoryPage, list_directory
from limen.respond.errors import (
    AccountNotFound,
    InvalidStream,
    KillSwitchNotEngaged,
    StreamNotFound,
    WrongKind,
)
from limen.respond.partners import (
    PARTNER_SCOPES,
    PARTNER_TOKEN_TTL,
    Partner,
    is_partner,
    list_partners,
    register_partner,
    revoke_partner,
)

__all__ = [
    "KILL_SWITCH_KINDS",
    "PARTNER_SCOPES",
    "PARTNER_TOKEN_TTL",
    "AccountNotFound",
    "Contained",
    "DirectoryPage",
    "InvalidStream",
    "KillSwitchNotEngaged",
    "Partner",
    "StreamNotFound",
    "WrongKind",
    "contain",
    "disengage",
    "engage",
    "engaged_kill_switches",
    "find",
    "is_partner",
    "list_directory",
    "list_partners",
    "register_partner",
    "release",
    "revoke_partner",
]
