"""Faults to inject into a Limen installation on PostgreSQL, for tests and benchmarks.

- :func:`terminate_listeners`: ``pg_terminate_backend`` of a node's ``LISTEN``
  connection (its change feed), as a failover, a pooler or an operator would.
- :class:`PgProxy`: a TCP proxy in front of PostgreSQL that nodes connect through; it can
  drop every connection at once (:meth:`PgProxy.drop`) or refuse connections for a while
  (:meth:`PgProxy.refuse`), as a database restart or a network partition would.

Nothing here knows Limen's internals: a node is found by the ``application_name`` in its
database URL (:func:`named`), and its feed by the statement its beat runs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Final

import sqlalchemy as sa

__all__ = ["PgProxy", "named", "terminate_listeners"]

# What a node's change feed runs every few milliseconds (its beat, see limen.store.broadcast):
# the one statement that tells its LISTEN connection from the node's other connections.
_BEAT_STATEMENT: Final = "SELECT pg_notify($1, $2)"


def named(url: str, application_name: str) -> str:
    """``url`` with the server sessions it opens named ``application_name``."""
    return f"{url}{'&' if '?' in url else '?'}application_name={application_name}"


def terminate_listeners(admin_url: str, application_name: str, *, wait: float = 5.0) -> int:
    """Terminate the ``LISTEN`` connection of every node whose sessions carry
    ``application_name``; how many were terminated.

    Waits (at most ``wait`` seconds) for the feed to have beaten once, so that a node
    that has only just started is found too.
    """
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        deadline = time.monotonic() + wait
        with engine.connect() as connection:
            while True:
                count = connection.scalar(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name AND query = :beat"
                    ),
                    {"name": application_name, "beat": _BEAT_STATEMENT},
                )
                if count or time.monotonic() > deadline:
                    return int(count or 0)
                time.sleep(0.02)
    finally:
        engine.dispose()


class PgProxy:
    """A TCP proxy on a loopback port in front of a PostgreSQL server.

    Point nodes at :attr:`port` instead of the server's. :meth:`drop` closes every
    connection through it (both ends), as a database restart does; :meth:`refuse` also
    refuses new ones for ``seconds`` (accepted and closed at once, as a server that is
    starting up or a partition would look to a client), then lets them through again.
    """

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._refuse_until = 0.0
        self._closed = False
        self.connections = 0
        """Connections accepted and passed on so far."""
        self._thread = threading.Thread(target=self._accept, name="pg-proxy", daemon=True)
        self._thread.start()

    def url(self, url: str) -> str:
        """``url`` (a PostgreSQL URL on the target) through this proxy instead."""
        parsed = sa.engine.make_url(url)
        return parsed.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    @property
    def refusing(self) -> bool:
        return time.monotonic() < self._refuse_until

    def drop(self) -> int:
        """Close every open connection; how many there were."""
        with self._lock:
            sockets = list(self._open)
            self._open.clear()
        for sock in sockets:
            _close(sock)
        return len(sockets) // 2

    def refuse(self, seconds: float) -> None:
        """Drop every connection and refuse new ones for ``seconds`` (no wait here)."""
        self._refuse_until = time.monotonic() + seconds
        self.drop()

    def close(self) -> None:
        self._closed = True
        _close(self._listener)
        self.drop()

    def __enter__(self) -> PgProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=2)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._open.update((client, upstream))
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pipe, args=(source, sink), name="pg-proxy-pipe", daemon=True
                ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
