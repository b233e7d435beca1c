"""Response: contain identities at machine speed and tell other systems (Shared Signals).

See ``containment`` (suspend with cascade, kill switch) and ``ssf`` (the OpenID Shared
Signals transmitter).
"""

from limen.respond.containment import (
    KILL_SWITCH_KINDS,
    Contained,
    contain,
    deprovision,
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
    PartnerDisabled,
    StreamNotFound,
    WrongKind,
)
from limen.respond.partners import (
    PARTNER_SCOPES,
    PARTNER_TOKEN_TTL,
    Partner,
    PartnerTokenEndpoint,
    get_partner,
    is_partner,
    list_partners,
    register_partner,
    revoke_partner,
    rotate_partner,
)
from limen.respond.responder import Responder

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
    "PartnerDisabled",
    "PartnerTokenEndpoint",
    "Responder",
    "StreamNotFound",
    "WrongKind",
    "contain",
    "deprovision",
    "disengage",
    "engage",
    "engaged_kill_switches",
    "find",
    "get_partner",
    "is_partner",
    "list_directory",
    "list_partners",
    "register_partner",
    "release",
    "revoke_partner",
    "rotate_partner",
]
