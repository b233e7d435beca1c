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

__all__ = [
    "KILL_SWITCH_KINDS",
    "AccountNotFound",
    "Contained",
    "DirectoryPage",
    "InvalidStream",
    "KillSwitchNotEngaged",
    "StreamNotFound",
    "WrongKind",
    "contain",
    "disengage",
    "engage",
    "engaged_kill_switches",
    "find",
    "list_directory",
    "release",
]
