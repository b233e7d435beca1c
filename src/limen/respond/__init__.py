"""Response: contain identities at machine speed and tell other systems (Shared Signals).

See ``containment`` (suspend with cascade, kill switch) and ``ssf`` (the OpenID Shared
Signals transmitter).

Names are imported from their module when first asked for (``limen._lazy``): a command
talking to a server checks a kill switch's kind without loading the database layer.
"""

from __future__ import annotations

import typing

from limen._lazy import door as _door

if typing.TYPE_CHECKING:
    from limen.respond._kinds import KILL_SWITCH_KINDS
    from limen.respond.containment import (
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

_MODULES: typing.Final = {
    "limen.respond._kinds": ("KILL_SWITCH_KINDS",),
    "limen.respond.containment": (
        "Contained",
        "contain",
        "deprovision",
        "disengage",
        "engage",
        "engaged_kill_switches",
        "find",
        "release",
    ),
    "limen.respond.directory": ("DirectoryPage", "list_directory"),
    "limen.respond.errors": (
        "AccountNotFound",
        "InvalidStream",
        "KillSwitchNotEngaged",
        "PartnerDisabled",
        "StreamNotFound",
        "WrongKind",
    ),
    "limen.respond.partners": (
        "PARTNER_SCOPES",
        "PARTNER_TOKEN_TTL",
        "Partner",
        "PartnerTokenEndpoint",
        "get_partner",
        "is_partner",
        "list_partners",
        "register_partner",
        "revoke_partner",
        "rotate_partner",
    ),
    "limen.respond.responder": ("Responder",),
}
_LAZY: typing.Final = {name: module for module, names in _MODULES.items() for name in names}

__getattr__ = _door(__name__, _LAZY, globals())

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
