"""SQLite's write-ahead log is copied back into the database file by a background thread.

Left to SQLite, the copy (a checkpoint, with its fsyncs) is made by whichever commit
happens to fill the log past 1,000 pages: on an installation writing an event per
secret read, that was one read in about ninety taking 5-8 ms instead of 0.15 ms, and
the in-process p99 of ``benchmarks/vault_read.py`` was that stall. Here one daemon
thread per process runs a passive checkpoint of every open SQLite file a few times a
second; a passive checkpoint waits for no reader or writer, so commits go on while it
copies. The connections' own automatic checkpoint stays as a backstop, at
:data:`BACKSTOP_PAGES`, for a log the thread cannot keep up with.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import urllib.parse
from typing import Final

__all__ = ["BACKSTOP_PAGES", "INTERVAL_SECONDS", "Checkpoints", "checkpoints"]

log = logging.getLogger(__name__)

INTERVAL_SECONDS: Final = 0.1
BACKSTOP_PAGES: Final = 10_000
"""``PRAGMA wal_autocheckpoint`` on Limen's connections: a committing writer copies the
log itself only once it is this long (40 MB of 4 KiB pages)."""


class Checkpoints:
    """The SQLite files this process has open, and the thread that checkpoints them."""

    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._users: dict[str, int] = {}
        self._thread: threading.Thread | None = None

    def add(self, path: str) -> None:
        with self._lock:
            self._users[path] = self._users.get(path, 0) + 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="limen-sqlite-checkpoint", daemon=True
                )
                self._thread.start()

    def remove(self, path: str) -> None:
        with self._lock:
            left = self._users.get(path, 0) - 1
            if left > 0:
                self._users[path] = left
            else:
                self._users.pop(path, None)

    def paths(self) -> list[str]:
        with self._lock:
            return list(self._users)

    def _run(self) -> None:
        # The thread's own connections: sqlite3 connections stay on the thread that made them.
        connections: dict[str, sqlite3.Connection] = {}
        try:
            while True:
                time.sleep(self._interval)
                wanted = set(self.paths())
                for path in [p for p in connections if p not in wanted]:
                    connections.pop(path).close()
                for path in wanted:
                    self._checkpoint(connections, path)
                with self._lock:
                    if not self._users and not connections:
                        self._thread = None
                        return
        finally:
            for connection in connections.values():
                connection.close()

    def _checkpoint(self, connections: dict[str, sqlite3.Connection], path: str) -> None:
        try:
            connection = connections.get(path)
            if connection is None:
                # mode=rw: a file deleted meanwhile is an error, not a new empty database.
                uri = f"file:{urllib.parse.quote(path)}?mode=rw"
                connection = sqlite3.connect(uri, uri=True, isolation_level=None)
                connections[path] = connection
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            # A busy or vanished file: the connections' own backstop still holds the log.
            log.debug("checkpoint of %s skipped: %s", path, exc)
            stale = connections.pop(path, None)
            if stale is not None:
                stale.close()


checkpoints: Final = Checkpoints()
"""The process's checkpointer: every :class:`~limen.store.db.Database` on a SQLite file
registers its file here while it is open."""
