"""Item lookups a PostgreSQL node reuses until a vault write anywhere could have changed them.

On PostgreSQL the lookup of a secret read is a network round trip: with one worker it was
a quarter of the event loop's time per read. The rows it returns change only when a vault
row is written, and every such write announces itself:

- any unit of work that inserts, changes or deletes a vault, item, item version, file or
  key-encryption key publishes :data:`VAULT_CHANGED` (:func:`_announce_vault_writes`, a
  session hook, so no write path has to remember it);
- the node that wrote drops its kept rows right after the commit, before the write's own
  answer leaves; every other node drops them when the NOTIFY reaches it.

Rows are kept only while the node's LISTEN connection is up and has been since before the
lookup, and for a few seconds at most (``LIMEN_VAULT_REUSE_SECONDS``, 5 by default; 0
turns this off), in case a change was missed anyway. A node that is not listening looks
every item up. Only the sealed rows are kept: a read still unwraps and decrypts, checks
the reader's scopes, and records its event before it answers.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Hashable
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from limen.store import UnitOfWork
from limen.store.broadcast import Broadcaster
from limen.store.models.vault import Vault, VaultFile, VaultItem, VaultItemVersion, VaultKek

__all__ = ["VAULT_CHANGED", "KeptReads"]

VAULT_CHANGED: Final = "vault.changed"
"""Published, with no payload, by every unit of work that writes a vault row."""

_MODELS: Final = (Vault, VaultItem, VaultItemVersion, VaultFile, VaultKek)
_TABLES: Final = frozenset(model.__table__ for model in _MODELS)
_KEEP_SECONDS: Final = 5.0
_LIMIT: Final = 10_000

Stamp = tuple[int, int]
"""When a lookup started: (vault changes seen so far, the listener's epoch)."""


class KeptReads:
    """Recent lookup rows by reference, valid until a vault write is heard of."""

    def __init__(self, broadcaster: Broadcaster, *, seconds: float = _KEEP_SECONDS) -> None:
        self._broadcaster = broadcaster
        self._seconds = seconds
        self._lock = threading.Lock()
        self._changes = 0
        self._kept: dict[Hashable, tuple[int, int, float, Any]] = {}
        broadcaster.subscribe(VAULT_CHANGED, self._forget)

    def get(self, key: Hashable) -> Any | None:
        """The rows kept for ``key``, or ``None``: look them up (after :meth:`stamp`)."""
        kept = self._kept.get(key)
        if kept is None:
            return None
        changes, epoch, at, rows = kept
        # The same epoch: the node has been listening without a break since the lookup.
        if (
            changes != self._changes
            or epoch != self._broadcaster.epoch
            or time.monotonic() - at > self._seconds
        ):
            return None
        return rows

    def stamp(self) -> Stamp | None:
        """Take before a lookup; ``None`` when nothing looked up now may be kept."""
        broadcaster = self._broadcaster
        epoch = broadcaster.epoch  # before ``listening``: see Broadcaster._set_listening
        if not broadcaster.listening or self._seconds <= 0:
            return None
        return self._changes, epoch

    def keep(self, key: Hashable, stamp: Stamp | None, rows: Any) -> None:
        """Keep what a lookup stamped with ``stamp`` returned, unless a change came since."""
        if stamp is None or stamp[0] != self._changes:
            return
        if len(self._kept) >= _LIMIT:
            self._kept = {}
        # Checked again on use: a change heard between the test above and this store
        # has moved the count.
        self._kept[key] = (stamp[0], stamp[1], time.monotonic(), rows)

    def _forget(self, _payload: Any) -> None:
        with self._lock:
            self._changes += 1
            self._kept = {}


def _announce(session: Session) -> None:
    uow = UnitOfWork.of(session)
    if uow is not None:
        uow.publish_once(VAULT_CHANGED)


@sa.event.listens_for(Session, "after_flush")
def _announce_vault_writes(session: Session, _flush: UOWTransaction) -> None:
    # After a flush the session still lists what the flush wrote.
    written = itertools.chain(session.new, session.dirty, session.deleted)
    if any(isinstance(row, _MODELS) for row in written):
        _announce(session)


@sa.event.listens_for(Session, "do_orm_execute")
def _announce_vault_statements(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and getattr(state.statement, "table", None) in _TABLES:
        _announce(state.session)
