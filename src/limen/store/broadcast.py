"""Status changes reach every Limen node: in process, and across nodes via LISTEN/NOTIFY.

A producer publishes inside its unit of work. On PostgreSQL the NOTIFY is part of the
transaction, so other nodes hear of a change exactly when it commits and never of one
that rolled back. Subscribers on the publishing node are called right after the commit;
each node's listener thread calls its own subscribers for changes made elsewhere.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from limen.ids import new_id

__all__ = ["Broadcaster", "Subscriber"]

log = logging.getLogger(__name__)

Subscriber = Callable[[dict[str, Any]], None]

# The channel is named after what the connection is, not after how its URL is spelt: two
# nodes that reach one database by other host names, ports or options must hear each
# other. NOTIFY is already confined to one database, and the schema keeps installations
# that share a database (test schemas) apart.
_CHANNEL = "'limen_' || md5(current_schema())"


class Broadcaster:
    def __init__(self, url: str) -> None:
        self.node_id = new_id()
        self._url = url
        self._postgres = url.startswith("postgresql")
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        # Whether this node hears other nodes' changes right now, and a count that moves
        # whenever that starts or stops: anything learnt from the database under one count
        # may have missed a change once the count has moved.
        self.listening = False
        self.epoch = 0

    def subscribe(self, topic: str, callback: Subscriber) -> None:
        with self._lock:
            self._subscribers[topic].append(callback)

    def unsubscribe(self, topic: str, callback: Subscriber) -> None:
        with self._lock:
            if callback in self._subscribers[topic]:
                self._subscribers[topic].remove(callback)

    def send_in_transaction(self, connection: sa.Connection, topic: str, payload: Any) -> None:
        """Queue a NOTIFY that PostgreSQL delivers only if the transaction commits."""
        if not self._postgres:
            return
        message = json.dumps({"node": self.node_id, "topic": topic, "payload": payload})
        # On the driver's cursor, in the connection's transaction: a status change waits on
        # this, and a Core execution costs several times the statement itself.
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(f"SELECT pg_notify({_CHANNEL}, %s)", (message,))
        finally:
            cursor.close()

    def deliver(self, topic: str, payload: Any) -> None:
        """Call this node's subscribers of ``topic``; a failing one does not stop the rest."""
        with self._lock:
            callbacks = list(self._subscribers.get(topic, ()))
        for callback in callbacks:
            try:
                callback(payload)
            except Exception:
                log.exception("subscriber of %s failed", topic)

    def start(self) -> None:
        """Start listening for other nodes' changes (PostgreSQL only)."""
        if not self._postgres or self._thread is not None:
            self.ready.set()
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen, name="limen-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._set_listening(False)

    def _set_listening(self, listening: bool) -> None:
        # In this order: a reader that takes the epoch, then sees ``listening``, never
        # pairs the epoch of a connection with a moment when there was none.
        if self.listening != listening:
            self.listening = listening
            self.epoch += 1

    def _conninfo(self) -> str:
        url = make_url(self._url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def _listen(self) -> None:
        # Imported here: only PostgreSQL nodes listen, and the driver is a noticeable
        # share of every SQLite command's start-up.
        import psycopg
        from psycopg import sql

        backoff = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo(), autocommit=True) as conn:
                    channel = conn.execute(f"SELECT {_CHANNEL}").fetchone()[0]  # type: ignore[index]
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._set_listening(True)
                    self.ready.set()
                    backoff = 0.1
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._dispatch(note.payload)
            except psycopg.Error:
                self._set_listening(False)  # now, not after the back-off below
                log.warning("lost the LISTEN connection; reconnecting", exc_info=True)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self._set_listening(False)

    def _dispatch(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("node") == self.node_id:
            return
        self.deliver(message.get("topic", ""), message.get("payload"))
