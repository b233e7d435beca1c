"""Change notices reach every Limen process: in process at once, and across processes.

A producer publishes inside its unit of work, so a notice exists exactly when its change
committed. Subscribers on the publishing process are called right after the commit,
before the producer's answer leaves. Other processes hear of it through the database:

- PostgreSQL: ``NOTIFY`` is part of the transaction. Each node keeps one ``LISTEN``
  connection in a thread that calls its subscribers.
- SQLite: a notice is a row of ``store_notices`` written in the transaction. A thread
  asks SQLite every few milliseconds whether anyone committed (``PRAGMA data_version``)
  and, if so, reads the notices after the last one it saw.

Either way the broadcaster knows **how current** it is: :attr:`current_as_of` is a moment
(``time.monotonic()``) such that every change committed anywhere before it has been
delivered here. On PostgreSQL a node proves this with a beat, a NOTIFY of its own every
:data:`BEAT_SECONDS`: notifications arrive in commit order, so when its own beat comes
back, everything committed before the beat was sent has arrived. A node whose feed is
down stops moving ``current_as_of``; callers that must not act on stale state
(:meth:`is_current`) fail closed. When the feed comes back, :meth:`on_resync` callbacks
re-read what they keep before the node counts as current again.

A **nudge** (:meth:`Broadcaster.nudge`) is a lighter signal, sent after a commit rather
than in its transaction, for work that follows the database anyway and only wants to
start sooner (the live detector, when events were appended): this process's subscribers
are called at once, and on PostgreSQL a thread of its own tells the other processes
with one ``NOTIFY`` for whatever was nudged meanwhile, so a writer pays no round trip
and holds no lock for it. A nudge after a quiet spell goes out at once; while nudges
keep coming, the gap between two ``NOTIFY`` s grows from :data:`NUDGE_GAP_SECONDS` to
:data:`NUDGE_GAP_MAX_SECONDS`. A ``NOTIFY`` is not free: PostgreSQL gives a transaction
that notifies an id, so the server writes and flushes its commit like any other; and
the sending thread with two listening nodes spent on one about a sixth of the
instructions of the token grant that caused it (``benchmarks/tokens.py``, in process on
PostgreSQL). A follower busy with a stream of changes looks again on its own anyway. A
nudge may be lost (a dropped connection); whoever listens for one still looks on its
own from time to time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from limen.ids import new_id
from limen.store._timeouts import NETWORK, SILENT_SECONDS, UNANSWERED_SECONDS

__all__ = [
    "BEAT_SECONDS",
    "COMMITTED_ELSEWHERE",
    "NUDGE_GAP_MAX_SECONDS",
    "NUDGE_GAP_SECONDS",
    "Broadcaster",
    "Subscriber",
    "shut_down_socket",
]

log = logging.getLogger(__name__)

Subscriber = Callable[[Any], None]

BEAT_SECONDS: Final = 0.05
"""How often a node proves its change feed is live (PostgreSQL) or polls it (SQLite)."""
COMMITTED_ELSEWHERE: Final = "store.committed_elsewhere"
"""Delivered (no payload) when a SQLite poll finds that another connection committed,
whatever it wrote: a process that writes without nudging (a command beside a server)
still wakes the server's followers of the log within a poll."""
NUDGE_GAP_SECONDS: Final = 0.01
"""The least time between two nudges one process sends other processes (PostgreSQL)."""
NUDGE_GAP_MAX_SECONDS: Final = 0.05
"""The longest: what the gap grows to, doubling while every gap ends with a nudge
waiting; it is back to :data:`NUDGE_GAP_SECONDS` once one ends with none. The live
detector, busy with a stream of events, looks again every ``GATHER_SECONDS`` (as long)
whether nudged or not."""
_RECONNECT_MAX_SECONDS: Final = 0.5
_NOTICE_KEEP_SECONDS: Final = 600.0

# The channel is named after what the connection is, not after how its URL is spelt: two
# nodes that reach one database by other host names, ports or options must hear each
# other. NOTIFY is already confined to one database, and the schema keeps installations
# that share a database (test schemas) apart.
_CHANNEL = "'limen_' || md5(current_schema())"
_INSERT_NOTICE = sa.text(
    "INSERT INTO store_notices (node, topic, payload, created_at) "
    "VALUES (:node, :topic, :payload, :created_at)"
)


class Broadcaster:
    def __init__(self, url: str) -> None:
        self.node_id = new_id()
        self._url = url
        self._postgres = url.startswith("postgresql")
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)
        self._resync: list[Callable[[], None]] = []
        self._lost: list[Callable[[], None]] = []
        self._silent: list[Callable[[], None]] = []
        self._quiet: list[Callable[[], None]] = []
        self._feed_connection: Any = None
        self._watchdog: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        """Set once the feed is up (or there is nothing to listen to)."""
        self.listening = False
        """Whether this process hears other processes' changes right now."""
        self.epoch = 0
        """Moves whenever :attr:`listening` changes: anything learnt from the database
        under one epoch may have missed a change once the epoch has moved."""
        self.current_as_of: float | None = None
        """Every change committed anywhere before this ``time.monotonic()`` moment has
        been delivered here; ``None`` while the feed has never been up."""
        self.reachable = True
        """``False`` while the feed cannot reach the database (the database is down)."""
        self._beat = 0
        self._beats_sent: dict[int, float] = {}
        self._sqlite_poll: _SqlitePoll | None = None
        self._nudged: set[str] = set()
        self._nudge_wake = threading.Event()
        self._nudge_thread: threading.Thread | None = None

    # -- subscribing -----------------------------------------------------------------

    def subscribe(self, topic: str, callback: Subscriber) -> None:
        with self._lock:
            self._subscribers[topic].append(callback)

    def unsubscribe(self, topic: str, callback: Subscriber) -> None:
        with self._lock:
            if callback in self._subscribers[topic]:
                self._subscribers[topic].remove(callback)

    def on_resync(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the feed's thread) whenever the feed (re)starts, before
        the process counts as current: re-read anything kept from the database, since
        changes made while the feed was down were never announced here."""
        with self._lock:
            self._resync.append(callback)

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the feed loses the database (e.g. to drop pooled
        connections that died with it)."""
        with self._lock:
            self._lost.append(callback)

    def on_silent(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the watchdog's thread) when the database stops
        answering without closing anything (packets dropped): to shut down the sockets
        of connections in use, whose requests would otherwise wait for TCP to give up."""
        with self._lock:
            self._silent.append(callback)

    def on_quiet(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the watchdog's thread, every beat) while a beat has gone
        unanswered for :data:`UNANSWERED_SECONDS`: the database may have gone silent, or
        be very busy. Not a verdict (see :meth:`on_silent`): for requests to stop waiting
        on it, not for the node to give up on it."""
        with self._lock:
            self._quiet.append(callback)

    def quiet_for(self) -> float:
        """How long the oldest beat of the feed's connection has waited for its answer
        (0 if none waits, if its answer is in but not yet read, or if there is no feed
        connection right now: a reconnecting feed says nothing about a silent database)."""
        connection = self._feed_connection
        if connection is None:
            return 0.0
        try:
            oldest = min(self._beats_sent.values(), default=None)
        except RuntimeError:  # the feed's thread changed it meanwhile
            return 0.0
        if oldest is None:
            return 0.0
        quiet = time.monotonic() - oldest
        if quiet >= UNANSWERED_SECONDS and _has_input(connection):
            return 0.0  # the database answered; the feed's thread is only slow to read it
        return quiet

    def suspects_silence(self) -> bool:
        """Whether a beat has gone unanswered for :data:`UNANSWERED_SECONDS`."""
        return self.quiet_for() >= UNANSWERED_SECONDS

    def is_current(self, max_age: float) -> bool:
        """Whether every change committed more than ``max_age`` seconds ago is known here.

        On SQLite a process whose poller is late (a busy interpreter) polls right here
        instead of failing: the notices are in the database file it has open anyway.
        """
        current = self.current_as_of
        if current is not None and time.monotonic() - current <= max_age:
            return True
        poll = self._sqlite_poll
        return bool(poll is not None and self.listening and poll.tick(blocking=False))

    # -- publishing ------------------------------------------------------------------

    def send_in_transaction(self, connection: sa.Connection, topic: str, payload: Any) -> None:
        """Queue a notice that other processes receive only if the transaction commits."""
        message = json.dumps({"node": self.node_id, "topic": topic, "payload": payload})
        if self._postgres:
            # On the driver's cursor, in the connection's transaction: a status change
            # waits on this, and a Core execution costs several times the statement.
            from limen.store.lookup import driver_cursor

            with driver_cursor(connection) as cursor:
                cursor.execute(f"SELECT pg_notify({_CHANNEL}, %s)", (message,))
            return
        from limen.store.models.base import utcnow

        connection.execute(
            _INSERT_NOTICE,
            {
                "node": self.node_id,
                "topic": topic,
                "payload": json.dumps(payload),
                "created_at": utcnow().replace(tzinfo=None).isoformat(sep=" "),
            },
        )

    def nudge(self, topic: str) -> None:
        """Tell ``topic``'s subscribers, here and in other processes, that something they
        follow changed; call it after the commit. Best effort (see the module docstring):
        costs the caller no database work."""
        self.deliver(topic, None)
        if not self._postgres or self._thread is None or self._stop.is_set():
            return  # no feed of our own: nobody to tell, or a short-lived command
        with self._lock:
            self._nudged.add(topic)
            if self._nudge_thread is None:
                self._nudge_thread = threading.Thread(
                    target=self._send_nudges, name="limen-nudge", daemon=True
                )
                self._nudge_thread.start()
        if not self._nudge_wake.is_set():  # else the sender has yet to take the topic
            self._nudge_wake.set()

    def _send_nudges(self) -> None:
        import psycopg

        connection: Any = None
        gap = NUDGE_GAP_SECONDS
        try:
            while not self._stop.is_set():
                self._nudge_wake.wait()
                if self._stop.is_set():
                    break
                self._nudge_wake.clear()
                with self._lock:
                    topics, self._nudged = self._nudged, set()
                try:
                    if connection is None or connection.closed:
                        connection = psycopg.connect(
                            self._conninfo(),
                            autocommit=True,
                            **NETWORK,
                        )
                    for topic in sorted(topics):
                        message = json.dumps({"node": self.node_id, "topic": topic})
                        connection.execute(f"SELECT pg_notify({_CHANNEL}, %s)", (message,))
                except Exception as exc:  # lost: listeners look on their own in a moment
                    log.debug("could not send a nudge: %s", _short(exc))
                    if connection is not None:
                        connection.close()
                    connection = None
                    self._stop.wait(_RECONNECT_MAX_SECONDS)
                self._stop.wait(gap)
                # Nudged meanwhile: writes keep coming, and the next gap is longer.
                busy = self._nudge_wake.is_set()
                gap = min(gap * 2, NUDGE_GAP_MAX_SECONDS) if busy else NUDGE_GAP_SECONDS
        finally:
            if connection is not None:
                connection.close()

    def deliver(self, topic: str, payload: Any) -> None:
        """Call this process's subscribers of ``topic``; a failing one does not stop the rest."""
        with self._lock:
            callbacks = list(self._subscribers.get(topic, ()))
        for callback in callbacks:
            try:
                callback(payload)
            except Exception:
                log.exception("subscriber of %s failed", topic)

    # -- the feed --------------------------------------------------------------------

    def start(self) -> None:
        """Start hearing other processes' changes (idempotent)."""
        if self._thread is not None:
            return
        database = None if self._postgres else make_url(self._url).database
        if not self._postgres and (not database or database == ":memory:"):
            # One process, one connection's worth of database: nobody else to hear.
            self._set_current(time.monotonic())
            self._set_listening(True)
            self.ready.set()
            return
        self._stop.clear()
        target = self._listen if self._postgres else self._poll
        self._thread = threading.Thread(target=target, name="limen-feed", daemon=True)
        self._thread.start()
        if self._postgres:
            self._watchdog = threading.Thread(
                target=self._watch, name="limen-feed-watchdog", daemon=True
            )
            self._watchdog.start()

    def stop(self) -> None:
        self._stop.set()
        self._nudge_wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._watchdog is not None:
            self._watchdog.join(timeout=5)
            self._watchdog = None
        with self._lock:
            nudger, self._nudge_thread = self._nudge_thread, None
        if nudger is not None:
            nudger.join(timeout=5)
        self._set_listening(False)
        self.ready.clear()
        self.current_as_of = None

    def _set_listening(self, listening: bool) -> None:
        # In this order: a reader that takes the epoch, then sees ``listening``, never
        # pairs the epoch of a connection with a moment when there was none.
        if self.listening != listening:
            self.listening = listening
            self.epoch += 1

    def _set_current(self, moment: float) -> None:
        if self.current_as_of is None or moment > self.current_as_of:
            self.current_as_of = moment

    def _call_resync(self) -> None:
        with self._lock:
            callbacks = list(self._resync)
        for callback in callbacks:
            callback()  # a failure means we are not current: the caller reconnects

    def _call_lost(self) -> None:
        with self._lock:
            callbacks = list(self._lost)
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("a handler of a lost database connection failed")

    def _feed_down(self, error: BaseException, delay: float) -> None:
        """The feed's connection failed, or could not be made."""
        if self.listening:
            # A working connection lost: by itself (a backend terminated, a pooler or
            # firewall dropping it) that does not mean the database is down. Reconnect at
            # once, catching up meanwhile (requests wait briefly for that); only if that
            # fails too is the database taken to be unreachable, and requests fail fast.
            self._set_listening(False)
            log.warning("lost the change feed: %s; reconnecting", _short(error))
            self._call_lost()
            return
        if self.reachable:
            self.reachable = False
            self._call_lost()
            log.warning(
                "the database cannot be reached: %s; retrying in %.2f s", _short(error), delay
            )
        else:
            log.warning(
                "the change feed is still down: %s; retrying in %.2f s", _short(error), delay
            )
        self._stop.wait(delay)

    # PostgreSQL ----------------------------------------------------------------------

    def _conninfo(self) -> str:
        url = make_url(self._url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def _listen(self) -> None:
        # Imported here: only PostgreSQL nodes listen, and the driver is a noticeable
        # share of every SQLite command's start-up.
        import psycopg
        from psycopg import sql

        backoff = 0.05
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo(), autocommit=True, **NETWORK) as conn:
                    channel = conn.execute(f"SELECT {_CHANNEL}").fetchone()[0]  # type: ignore[index]
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    if not self.reachable:
                        log.warning("the change feed is back: catching up")
                    self.reachable = True
                    # Listening from here on; what committed before is re-read.
                    started = time.monotonic()
                    self._call_resync()
                    self._set_current(started)
                    self._set_listening(True)
                    self.ready.set()
                    backoff = 0.05
                    # Beats of a connection that died are never answered: they must not
                    # make this one look silent.
                    self._beats_sent = {}
                    self._feed_connection = conn
                    try:
                        self._beat_loop(conn, channel)
                    finally:
                        self._feed_connection = None
            except Exception as exc:
                if self._stop.is_set():
                    break
                self._feed_down(exc, backoff)
                backoff = min(backoff * 2, _RECONNECT_MAX_SECONDS)
        self._set_listening(False)

    def _watch(self) -> None:
        """Notice a database that stopped answering without closing anything: the feed's
        beat has not come back for :data:`SILENT_SECONDS` while its connection looks
        up. Its thread is stuck in a statement that TCP would give up on only after
        minutes, and so is every request using a connection: the database is taken to be
        away (requests fail at once), and those connections' sockets are shut down."""
        while not self._stop.wait(BEAT_SECONDS):
            if self.suspects_silence():
                with self._lock:
                    suspicious = list(self._quiet)
                for callback in suspicious:
                    try:
                        callback()
                    except Exception:
                        log.exception("a handler of an unanswered beat failed")
            connection = self._feed_connection
            current = self.current_as_of
            now = time.monotonic()
            if connection is None or current is None or now - current < SILENT_SECONDS:
                continue
            try:
                oldest_unanswered = min(self._beats_sent.values(), default=None)
            except RuntimeError:  # the feed's thread changed it meanwhile: look again
                continue
            if oldest_unanswered is None or now - oldest_unanswered < SILENT_SECONDS:
                # No beat has waited that long for its answer: the feed's thread is busy
                # (handling notifications, or starved of CPU), not the database silent.
                continue
            if _has_input(connection):
                continue  # the database answered; the feed's thread is only slow (a busy CPU)
            self._feed_connection = None  # once per connection
            log.warning(
                "the database has not answered for %.1f s; closing its connections",
                time.monotonic() - current,
            )
            self.reachable = False
            self._call_lost()
            with self._lock:
                callbacks = list(self._silent)
            for callback in callbacks:
                try:
                    callback()
                except Exception:
                    log.exception("a handler of a silent database failed")
            with contextlib.suppress(Exception):
                shut_down_socket(connection.pgconn.socket)

    def _beat_loop(self, conn: Any, channel: str) -> None:
        next_beat = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_beat:
                self._beat += 1
                self._beats_sent[self._beat] = now
                beat = json.dumps({"node": self.node_id, "beat": self._beat})
                conn.execute("SELECT pg_notify(%s, %s)", (channel, beat))
                next_beat = now + BEAT_SECONDS
            for note in conn.notifies(timeout=max(0.0, next_beat - time.monotonic())):
                self._dispatch(note.payload)

    # SQLite --------------------------------------------------------------------------

    def _poll(self) -> None:
        import sqlite3

        database = make_url(self._url).database
        backoff = 0.05
        while not self._stop.is_set():
            try:
                connection = sqlite3.connect(database, timeout=5, check_same_thread=False)
            except sqlite3.Error as exc:
                self._feed_down(exc, backoff)
                continue
            try:
                self._poll_on(connection)
            except sqlite3.Error as exc:
                if self._stop.is_set():
                    break
                self._feed_down(exc, backoff)
                backoff = min(backoff * 2, _RECONNECT_MAX_SECONDS)
            finally:
                connection.close()
        self._set_listening(False)

    def _poll_on(self, connection: Any) -> None:
        started = time.monotonic()
        poll = _SqlitePoll(self, connection)
        self.reachable = True
        self._call_resync()
        self._set_current(started)
        self._sqlite_poll = poll
        self._set_listening(True)
        self.ready.set()
        next_prune = started + 60.0
        try:
            while not self._stop.wait(BEAT_SECONDS):
                poll.tick(blocking=True)
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + 60.0
                    with poll.lock:
                        self._prune(connection)
        finally:
            self._sqlite_poll = None

    def _prune(self, connection: Any) -> None:
        from datetime import timedelta

        from limen.store.models.base import utcnow

        cutoff = (utcnow() - timedelta(seconds=_NOTICE_KEEP_SECONDS)).replace(tzinfo=None)
        try:
            with connection:
                connection.execute(
                    "DELETE FROM store_notices WHERE created_at < ? "
                    "AND seq < (SELECT max(seq) FROM store_notices)",
                    (cutoff.isoformat(sep=" "),),
                )
        except Exception as exc:  # a busy database: try again next time
            log.debug("could not prune old notices: %s", _short(exc))

    # --------------------------------------------------------------------------------

    def _dispatch(self, raw: str) -> None:
        message = _loads(raw)
        if not isinstance(message, dict):
            return
        if message.get("node") == self.node_id:
            beat = message.get("beat")
            if isinstance(beat, int):
                sent = self._beats_sent.pop(beat, None)
                # Notifications arrive in commit order: all before the beat are in.
                if sent is not None:
                    self._set_current(sent)
                for old in [b for b in self._beats_sent if b < beat]:
                    del self._beats_sent[old]
            return
        if "beat" in message:
            return
        self.deliver(str(message.get("topic", "")), message.get("payload"))


class _SqlitePoll:
    """One look at a SQLite file for notices committed since the last look."""

    def __init__(self, broadcaster: Broadcaster, connection: Any) -> None:
        self.lock = threading.Lock()
        self._broadcaster = broadcaster
        self._connection = connection
        self._last = connection.execute(
            "SELECT coalesce(max(seq), 0) FROM store_notices"
        ).fetchone()[0]
        self._version = connection.execute("PRAGMA data_version").fetchone()[0]

    def tick(self, *, blocking: bool) -> bool:
        """Deliver what committed since the last tick; ``False`` if it could not look
        (without ``blocking``, another tick under way for more than a moment)."""
        if not self.lock.acquire(timeout=-1 if blocking else 0.1):
            return False
        try:
            tick = time.monotonic()
            connection = self._connection
            version = connection.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._version = version
                self._broadcaster.deliver(COMMITTED_ELSEWHERE, None)
                rows = connection.execute(
                    "SELECT seq, node, topic, payload FROM store_notices WHERE seq > ? "
                    "ORDER BY seq",
                    (self._last,),
                ).fetchall()
                broadcaster = self._broadcaster
                for seq, node, topic, payload in rows:
                    self._last = seq
                    if node != broadcaster.node_id:
                        broadcaster.deliver(topic, _loads(payload))
            self._broadcaster._set_current(tick)
            return True
        except Exception as exc:  # the poller thread will say so and reconnect
            log.debug("could not look for notices: %s", _short(exc))
            return False
        finally:
            self.lock.release()


def _has_input(connection: Any) -> bool:
    """Whether the feed connection's socket holds an answer not yet read."""
    try:
        readable, _, _ = select.select([connection.pgconn.socket], [], [], 0)
    except Exception:  # closed meanwhile
        return False
    return bool(readable)


def shut_down_socket(fd: int) -> None:
    """Shut down the socket behind descriptor ``fd`` (both ways), so that whoever waits
    on it (another thread, an event loop) sees the connection end; the descriptor stays
    its owner's to close."""
    try:
        duplicate = os.dup(fd)
    except OSError:
        return
    try:
        sock = socket.socket(fileno=duplicate)
    except OSError:
        os.close(duplicate)
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _loads(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
