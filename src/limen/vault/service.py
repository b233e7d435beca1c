"""The vault service: vaults, items and their versions, files, references, policy.

One :class:`VaultService` per process, built by the edges (API, CLI) from a database
and a :class:`~limen.vault.keys.Keyring`. Every method takes the acting
:class:`~limen.audit.Actor`, checks its vault scopes (see :mod:`limen.vault.scopes`)
and records what it did in the event log in the same transaction, naming the vault,
the item and the fields, never a value. A refused attempt is recorded too, in a
transaction of its own, because the refusal rolls the caller's back.

This module is the façade; each concern has a module of its own:

============================  ===========================================================
``vault/_base.py``            shared state: the authorised unit of work, finding vaults
                              and items, sealing and opening versions
``vault/_vaults.py``          vaults, their rotation policy, the report, activity
``vault/_items.py``           items, versions and files: every write
``vault/_reads.py``           secret reads (the hot path, once, free of I/O) and references
``vault/_views.py``           what callers get back, and the builders (no I/O)
============================  ===========================================================
"""

from __future__ import annotations

from limen.vault._items import Items
from limen.vault._reads import Reads
from limen.vault._vaults import Vaults
from limen.vault._views import (
    FileInfo,
    ItemView,
    PolicyEntry,
    ResolvedSecret,
    VaultView,
    parse_filter,
)

__all__ = [
    "FileInfo",
    "ItemView",
    "PolicyEntry",
    "ResolvedSecret",
    "VaultService",
    "VaultView",
    "parse_filter",
]


class VaultService(Reads, Items, Vaults):
    """Everything the API and the CLI do with vaults goes through here.

    ``VaultService(db, keyring, *, authorizer, events, reuse_seconds=5.0)``: see
    :class:`~limen.vault._base.VaultCore`.
    """
