"""The background work of a Limen node: link new events, sign checkpoints, feed sinks.

Several nodes may run it at once: linking is serialised by the chain head's lock,
checkpoints are idempotent per head, and sinks are leased.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

from limen.audit._keys import AuditKeys
from limen.audit.chain import link_pending
from limen.audit.checkpoints import create_checkpoint, export_checkpoints
from limen.audit.sinks.outbox import deliver_due
from limen.errors import LimenError
from limen.ids import new_id
from limen.store import Database

__all__ = ["AuditWorker"]

log = logging.getLogger(__name__)


class AuditWorker:
    """Runs :meth:`run_once` every ``interval`` seconds on a daemon thread."""

    def __init__(
        self,
        db: Database,
        keys: AuditKeys,
        *,
        interval: float = 0.25,
        checkpoint_every: timedelta = timedelta(minutes=10),
        checkpoint_dir: Path | None = None,
        sinks: bool = True,
    ) -> None:
        self._db = db
        self._keys = keys
        self._interval = interval
        self._checkpoint_every = checkpoint_every.total_seconds()
        self._checkpoint_dir = checkpoint_dir
        self._sinks = sinks
        self._owner = new_id()
        self._last_checkpoint = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="limen-audit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        # Link what this node appended last and sign the head, so a clean shutdown leaves
        # nothing pending and nothing unsigned.
        try:
            link_pending(self._db, self._keys.chain, wait=False)
            self._checkpoint()
            link_pending(self._db, self._keys.chain, wait=False)
        except LimenError:
            log.warning("could not link and sign on shutdown", exc_info=True)

    def run_once(self) -> None:
        link_pending(self._db, self._keys.chain, wait=False)
        if time.monotonic() - self._last_checkpoint >= self._checkpoint_every:
            self._last_checkpoint = time.monotonic()
            self._checkpoint()
        if self._sinks:
            deliver_due(self._db, self._keys, owner=self._owner)

    def _checkpoint(self) -> None:
        checkpoint = create_checkpoint(self._db, self._keys)
        if checkpoint is not None and self._checkpoint_dir is not None:
            export_checkpoints([checkpoint], self._checkpoint_dir)

    def _run(self) -> None:
        backoff = self._interval
        while not self._stop.wait(backoff):
            try:
                self.run_once()
                backoff = self._interval
            except Exception:
                log.warning("audit worker pass failed; retrying", exc_info=True)
                backoff = min(backoff * 2, 5.0)
