"""The database: engine, migrations and units of work, on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import traceback
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from limen.errors import Conflict, Unavailable
from limen.store._timeouts import (
    BUSY_CHECKOUT_SECONDS,
    CHECKOUT_BREAK_SECONDS,
    CHECKOUT_SLICE_SECONDS,
    NETWORK,
    STUCK_SECONDS,
)
from limen.store.broadcast import Broadcaster, shut_down_socket
from limen.store.checkpoint import BACKSTOP_PAGES, checkpoints
from limen.store.dialect import dialect_for_url
from limen.store.embedded import MIGRATIONS as _MIGRATIONS
from limen.store.embedded import newest_migration
from limen.store.lookup import AsyncReader, Lookup, Reader

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["Database", "LoopBlocked", "StaleConnection", "UnitOfWork"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# PostgreSQL connections for lookups made on an event loop, per loop.
_ASYNC_POOL_SIZE = 10
# As many as the pool would keep: more are only ever in use at once in a burst.
_MAX_IDLE_SQLITE_CONNECTIONS = 20
# Any fixed number works; it only has to be the same for every Limen node.
_MIGRATION_LOCK_KEY = 0x4C494D454E
_UNIT_OF_WORK = "limen.unit_of_work"
# Ids (26 characters) and a value each per notice: well under NOTIFY's 8,000 bytes.
_NOTICE_CHUNK = 100


class StaleConnection(Unavailable):
    """A pooled connection turned out to be dead (the database restarted or the backend
    was killed): the request may be retried once on a fresh connection."""


class LoopBlocked(RuntimeError):
    """Synchronous database work was started on an event loop's thread: every other
    request on that loop would wait for it."""


class UnitOfWork:
    """One transaction: commit on a clean exit, roll back on any exception.

    Work that must only happen once the transaction is durable (NOTIFY, pushes to
    receivers) is queued with :meth:`after_commit`.
    """

    def __init__(self, session: Session, database: Database, *, readonly: bool = False) -> None:
        self.session = session
        self.database = database
        self.readonly = readonly
        """Nothing is committed: whatever is written is rolled back at the end."""
        self._broadcaster = database.broadcaster
        self._after_commit: list[Callable[[], None]] = []
        self._published: set[str] = set()
        self._collected: dict[str, dict[str, Any]] = {}
        session.info[_UNIT_OF_WORK] = self

    @staticmethod
    def of(session: Session) -> UnitOfWork | None:
        """The unit of work ``session`` belongs to: what a session event hook can publish on."""
        return session.info.get(_UNIT_OF_WORK)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def publish(self, topic: str, payload: Any) -> None:
        """Tell every node's subscribers of ``topic`` once this transaction commits."""
        self._broadcaster.send_in_transaction(self.session.connection(), topic, payload)
        self.after_commit(lambda: self._broadcaster.deliver(topic, payload))

    def publish_once(self, topic: str) -> None:
        """:meth:`publish` ``topic`` with no payload, at most once in this transaction."""
        if topic not in self._published:
            self._published.add(topic)
            self.publish(topic, None)

    def collect(self, topic: str, key: str, value: Any = None) -> None:
        """Note that ``key`` changed; one notice per topic is published just before commit,
        ``{"ids": {key: value, …}}`` (in chunks that fit a NOTIFY). Dict values noted
        for one key in several flushes are merged, later ones winning.

        For session hooks that see every flush: a transaction that changes a thousand
        rows sends a handful of notices, not a thousand.
        """
        changed = self._collected.setdefault(topic, {})
        old = changed.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            value = {**old, **value}
        changed[key] = value

    def _publish_collected(self) -> None:
        self.flush()  # what the last flush's hooks collect is published too
        if not self._collected:
            return
        collected, self._collected = self._collected, {}
        for topic, changed in collected.items():
            items = list(changed.items())
            for start in range(0, len(items), _NOTICE_CHUNK):
                self.publish(topic, {"ids": dict(items[start : start + _NOTICE_CHUNK])})

    def flush(self) -> None:
        """Write pending changes now, turning constraint violations into :class:`Conflict`."""
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise Conflict("that conflicts with an existing record") from exc


class Database:
    """Owns the engine; hands out units of work."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.dialect = dialect_for_url(url)
        """What this database can do, and its SQL fragments: code outside ``store/``
        asks this, never which database it is."""
        self.backend = self.dialect.name
        self.broadcaster = Broadcaster(url)
        # PostgreSQL connections handed out right now, for a database that stops answering.
        self._in_use = _InUse()
        self.engine = _create_engine(url, echo=echo, in_use=self._in_use, database=self)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.backend == "sqlite"
            else self.engine
        )
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._dbapi = self.engine.dialect.dbapi
        self.event_seal_key: bytes | None = None
        """The key event rows are sealed with (derived from the root key file by whoever
        holds it: the installation, the composition root). Never stored."""
        # SQLite: connections for autocommit() not in use; list pop and append are atomic.
        self._idle_connections: list[Any] = []
        # PostgreSQL: asyncio connection pools for reading_async, one per event loop, and
        # the generation of pools: a lost database makes every pooled connection suspect.
        self._async_pools: dict[asyncio.AbstractEventLoop, tuple[int, Any]] = {}
        self._pool_generation = 0
        self._closing_pools: set[asyncio.Task[Any]] = set()
        # Asyncio pools seen failing to connect: their successful connections by then.
        self._refusing: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        # When a checkout last gave up on the database (see _check_reachable).
        self._checkout_failed_at = float("-inf")
        self._stop_checkpoints = _checkpointed(self, self.engine.url.database)
        self.broadcaster.on_lost(self._drop_pooled_connections)
        self.broadcaster.on_resync(self._checkouts_work_again)
        self.broadcaster.on_silent(self._in_use.shut_down)
        self.broadcaster.on_quiet(self._give_up_stuck)

    def bare_target(self) -> str | None:
        """What :attr:`Dialect.driver_module` connects to from another process (a secret
        for PostgreSQL: hand it over on a pipe, never a command line), or ``None`` if
        another process cannot open this database (SQLite in memory)."""
        url = self.engine.url
        if self.backend == "postgresql":
            return url.set(drivername="postgresql").render_as_string(hide_password=False)
        if url.database and url.database != ":memory:":
            return url.database
        return None

    def _drop_pooled_connections(self) -> None:
        """The change feed lost the database: pooled connections are presumed dead, so the
        first requests after it returns get fresh ones instead of failing on stale ones.

        The idle ones are closed here and now: left to the garbage collector (the pool,
        its records and their connections hold each other), each kept its socket and
        libpq's buffers until a full collection, minutes later on a busy node, and
        ``benchmarks/soak.py`` saw resident memory creep with every fault.
        """
        if self.backend != "postgresql":
            return
        self._pool_generation += 1
        self.engine.dispose(close=True)

    def _check_reachable(self) -> None:
        """Fail at once while the change feed knows the database is down (it retries
        every half second, and says so as soon as the database answers again), and for
        a moment after a checkout waited in vain (see FAIL_FAST_SECONDS)."""
        if not self.broadcaster.reachable or (
            time.monotonic() - self._checkout_failed_at < CHECKOUT_BREAK_SECONDS
        ):
            raise Unavailable("the database cannot be reached; retry shortly")

    def _may_wait(self) -> bool:
        """Whether a request may wait on the database now: it is reachable, and no
        request gave up on it a moment ago (see :meth:`_check_reachable`)."""
        return self.broadcaster.reachable and (
            time.monotonic() - self._checkout_failed_at >= CHECKOUT_BREAK_SECONDS
        )

    def _gives_up(self, waited: float) -> bool:
        """Whether a request that has waited ``waited`` seconds for a connection (from a
        pool, or one being made) stops waiting: see STUCK_SECONDS."""
        if not self._may_wait():
            return True
        return waited >= STUCK_SECONDS and self.broadcaster.suspects_silence()

    def _give_up_stuck(self) -> None:
        """A beat has gone unanswered for a while (the change feed's watchdog calls this
        every beat meanwhile): requests stuck on a connection for :data:`STUCK_SECONDS`
        answer 503 now, rather than when the watchdog declares the database silent, and
        the next checkouts fail at once for a moment. The rest of the node carries on."""

        def pause_checkouts() -> None:
            # Before any socket is shut: a request woken by it must not retry at once.
            self._checkout_failed_at = time.monotonic()

        self._in_use.shut_down(older_than=STUCK_SECONDS, waiting_only=True, first=pause_checkouts)

    def _checkout_failed(self, exc: BaseException) -> Unavailable:
        """A checkout gave up on a database that refuses connections: the next ones fail
        at once for :data:`CHECKOUT_BREAK_SECONDS`."""
        self._checkout_failed_at = time.monotonic()
        error = Unavailable("the database cannot be reached; retry shortly")
        error.__cause__ = exc
        return error

    def _checkouts_work_again(self) -> None:
        """The change feed reached the database again: checkouts may wait for it again."""
        self._checkout_failed_at = float("-inf")

    def _check_sync_use(self) -> None:
        """Before synchronous database work: off the event loop, and reachable."""
        if asyncio._get_running_loop() is not None:
            _blocking_the_loop()
        self._check_reachable()

    @contextlib.contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[UnitOfWork]:
        """Open a transaction.

        On SQLite a writing unit of work starts with ``BEGIN IMMEDIATE`` so that two
        writers queue on the busy timeout instead of failing when a read lock cannot be
        upgraded.
        """
        self._check_sync_use()
        factory = self._sessions if readonly else self._write_sessions
        try:
            session = factory()
        except OperationalError as exc:
            raise Unavailable("the database cannot be reached") from exc
        uow = UnitOfWork(session, self, readonly=readonly)
        try:
            yield uow
            if not readonly:
                uow._publish_collected()
                session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise Conflict("that conflicts with an existing record") from exc
        except OperationalError as exc:
            session.rollback()
            if exc.connection_invalidated:
                raise StaleConnection("the database cannot be reached; retry shortly") from exc
            raise Unavailable("the database cannot be reached; retry shortly") from exc
        except PoolTimeoutError as exc:  # every pooled connection in use: a busy node
            session.rollback()
            raise Unavailable("too busy to reach the database; retry shortly") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.info.pop(_UNIT_OF_WORK, None)
            session.close()
        for callback in uow._after_commit:
            callback()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Reader]:
        """A driver connection for hot :class:`Lookup` s, outside any transaction.

        Each lookup sees the latest committed data on its own; use a unit of work when
        several reads must agree. Neither an ORM session nor a Core connection is built:
        on a request that only looks a few rows up, either costs more than the queries.
        """
        with self.autocommit() as connection:
            reader = Reader(connection, self.engine.dialect)
            try:
                yield reader
            finally:
                reader.close()

    @contextlib.asynccontextmanager
    async def reading_async(self) -> AsyncIterator[AsyncReader]:
        """:meth:`reading` for a coroutine on PostgreSQL, without a thread.

        A lookup handed to the thread pool costs several times its own CPU in thread
        hand-overs and waits for the interpreter lock (``benchmarks/vault_read.py`` on
        PostgreSQL shows it). SQLite has no asyncio driver: :meth:`first` and :meth:`run`
        take its reads to a worker thread.
        """
        async with self.connection_async() as connection:
            yield AsyncReader(connection, self.engine.dialect)

    @contextlib.asynccontextmanager
    async def connection_async(self) -> AsyncIterator[Any]:
        """A psycopg asyncio connection in autocommit mode (PostgreSQL only).

        It comes from a pool of the running event loop, which :meth:`close_async`
        closes. Errors that mean the database is gone become :class:`Unavailable`.
        """
        if self.backend != "postgresql":
            raise RuntimeError("asyncio connections are for PostgreSQL; SQLite reads inline")
        self._check_reachable()
        kept = self._async_pools.get(asyncio.get_running_loop())
        if kept is None or kept[0] != self._pool_generation:
            pool = await self._open_async_pool(stale=kept[1] if kept else None)
        else:
            pool = kept[1]
        from psycopg_pool import PoolTimeout

        try:
            # Not pool.connection(): its ``async with connection`` adds a commit call (and a
            # lock) per checkout that an autocommit connection does not need.
            connection = await self._checkout_async(pool)
            self._in_use.add(connection)
            try:
                yield connection
            finally:
                self._in_use.discard(connection)
                await pool.putconn(connection)
        except PoolTimeout as exc:
            raise self._checkout_failed(exc) from exc
        except self._dbapi.OperationalError as exc:
            # The pool discards this connection on its way back; the others are presumed
            # dead too (a server restart or failover) until checked, as in autocommit().
            # Not while the database is away, nor after a request gave up on it (that may
            # be this one): a check of a silent one would wait with it (the pool is
            # replaced anyway, see _drop_pooled_connections).
            if self._may_wait():
                await pool.check()
            raise StaleConnection("the database cannot be reached; retry shortly") from exc

    async def _checkout_async(self, pool: Any) -> Any:
        """A connection from ``pool``, waited for while the database is there.

        A request gives up (checking every :data:`CHECKOUT_SLICE_SECONDS`) once the pool
        has failed to connect since it began waiting, or has not connected since it was
        last seen failing (between its retries the pool makes no attempt to fail), or
        the change feed lost the database, or when it has waited :data:`STUCK_SECONDS`
        while the database leaves the feed's beats unanswered; and in any case after
        :data:`BUSY_CHECKOUT_SECONDS` (a node too busy, or slow to connect).
        """
        from psycopg_pool import PoolTimeout

        errors, _ = _attempts(pool)
        waited = 0.0
        while True:
            try:
                return await pool.getconn(timeout=CHECKOUT_SLICE_SECONDS)
            except PoolTimeout:
                waited += CHECKOUT_SLICE_SECONDS
                self._check_reachable()
                now_errors, now_connected = _attempts(pool)
                if now_errors > errors or self._refusing.get(pool) == now_connected:
                    self._refusing[pool] = now_connected
                    raise
                if self._gives_up(waited):
                    self._checkout_failed_at = time.monotonic()
                    raise Unavailable("the database is not answering; retry shortly") from None
                if waited >= BUSY_CHECKOUT_SECONDS:
                    raise Unavailable("too busy to reach the database; retry shortly") from None

    async def _open_async_pool(self, *, stale: Any = None) -> Any:
        from psycopg_pool import AsyncConnectionPool

        loop = asyncio.get_running_loop()
        generation = self._pool_generation
        # The very arguments the engine's own connections get (host, options, adapters).
        _, arguments = self.engine.dialect.create_connect_args(self.engine.url)
        pool = AsyncConnectionPool(
            "",
            kwargs={**arguments, "autocommit": True, **NETWORK},
            min_size=1,
            max_size=_ASYNC_POOL_SIZE,
            timeout=BUSY_CHECKOUT_SECONDS,
            open=False,
            name="limen-lookups",
        )
        await pool.open(wait=False)
        kept = self._async_pools.get(loop)
        if kept is not None and kept[1] is not stale:  # another request replaced it meanwhile
            self._closing(loop, pool.close())
            return kept[1]
        self._async_pools[loop] = (generation, pool)
        if stale is not None:
            self._closing(loop, stale.close(timeout=1.0))
        return pool

    def _closing(self, loop: asyncio.AbstractEventLoop, closing: Any) -> None:
        """Close a pool in the background, keeping the task until it is done."""
        task = loop.create_task(closing)
        self._closing_pools.add(task)
        task.add_done_callback(self._closing_pools.discard)

    async def close_async(self) -> None:
        """Close this event loop's pool of :meth:`reading_async` (the app's shutdown)."""
        kept = self._async_pools.pop(asyncio.get_running_loop(), None)
        if kept is not None:
            await kept[1].close()

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[Any]:
        """A DB-API connection on which each statement is its own transaction.

        For the hot paths that need one statement and nothing around it: no BEGIN before
        it nor ROLLBACK or COMMIT after it (on PostgreSQL, two round trips saved). Driver
        errors that mean the database is gone become :class:`Unavailable`.

        On PostgreSQL the connection comes from the pool. On SQLite it comes from a plain
        list of up to 20 idle connections kept out of the pool: the pool's checkout and
        return cost more than an indexed lookup, and its lock would be shared by the
        event loop and the event writer's thread.
        """
        self._check_sync_use()
        if self.backend == "sqlite":
            idle = self._idle_connections
            try:
                connection = idle.pop()
            except IndexError:
                connection = self._open_unpooled()
            broken = False
            try:
                yield connection
            except self._dbapi.Error as exc:
                broken = True
                connection.close()
                if isinstance(exc, self._dbapi.OperationalError):
                    raise Unavailable("the database cannot be reached") from exc
                raise
            finally:
                if not broken:
                    # Back to the list only as it was taken: outside any transaction, and
                    # only into this database's current list (dispose starts a new one).
                    if (
                        idle is self._idle_connections
                        and not connection.in_transaction
                        and len(idle) < _MAX_IDLE_SQLITE_CONNECTIONS
                    ):
                        idle.append(connection)
                    else:
                        connection.close()
            return
        pooled = self._raw_connection()
        dbapi_connection = pooled.dbapi_connection
        try:
            dbapi_connection.autocommit = True
            yield dbapi_connection
        except self._dbapi.Error as exc:
            if isinstance(exc, self._dbapi.OperationalError) and not self._may_wait():
                # Given up on (see _give_up_stuck), or the database is away: another
                # connection would only wait too.
                pooled.invalidate(exc)
                raise Unavailable("the database is not answering; retry shortly") from exc
            if self.engine.dialect.is_disconnect(exc, dbapi_connection, None):
                # As Core does on a disconnect: this connection and every other pooled
                # one are presumed dead (a server restart or failover).
                pooled.invalidate(exc)
                self.engine.dispose()
                raise StaleConnection("the database cannot be reached; retry shortly") from exc
            if isinstance(exc, self._dbapi.OperationalError):
                raise Unavailable("the database cannot be reached") from exc
            raise
        finally:
            if pooled.is_valid:
                try:
                    dbapi_connection.autocommit = False  # units of work share the pool
                except self._dbapi.Error as exc:
                    pooled.invalidate(exc)
            pooled.close()

    def _open_unpooled(self) -> Any:
        """A new SQLite connection, configured as pooled ones are (see _configure_sqlite)."""
        pooled = self._raw_connection()
        pooled.detach()  # out of the pool for good: autocommit() closes it
        return pooled.dbapi_connection

    def _raw_connection(self) -> Any:
        try:
            return self.engine.raw_connection()
        except PoolTimeoutError as exc:  # every pooled connection in use: a busy node
            raise Unavailable("too busy to reach the database; retry shortly") from exc
        except (DBAPIError, self._dbapi.Error) as exc:
            raise Unavailable("the database cannot be reached") from exc

    def retrying(self, work: Callable[[], T]) -> T:
        """``work()``, once more if a pooled connection turned out to be dead on the way.

        Only for idempotent work (reads, and changes that are no-ops when repeated, like
        a suspension): a connection that died under it had not committed anything.
        """
        try:
            return work()
        except StaleConnection:
            return work()

    def insert_new(self, table: sa.Table, values: Mapping[str, Any]) -> bool:
        """Insert one row unless ``table`` holds one with the same key; whether it did.

        The database's unique key decides, in one statement of its own transaction: of
        two processes inserting the same key at once, exactly one is told ``True``.
        """
        dialect = self.dialect
        names = list(values)
        sql = (
            f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608 - names, not values
            f"VALUES ({', '.join([dialect.marker] * len(names))}) ON CONFLICT DO NOTHING"
        )
        row = [
            dialect.bind_time(value) if isinstance(value, datetime) else value
            for value in values.values()
        ]
        with self.autocommit() as connection:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, row)
                return cursor.rowcount == 1
            finally:
                cursor.close()

    def delete_before(self, column: sa.Column[Any], moment: datetime) -> int:
        """Delete the rows whose time ``column`` is before ``moment``; how many."""
        sql = f"DELETE FROM {column.table.name} WHERE {column.name} < {self.dialect.marker}"  # noqa: S608
        with self.autocommit() as connection:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, [self.dialect.bind_time(moment)])
                return cursor.rowcount
            finally:
                cursor.close()

    async def first(self, lookup: Lookup, /, **parameters: Any) -> Any | None:
        """``lookup.first(…)`` from a coroutine, through whatever suits this database:
        an asyncio connection on PostgreSQL, the local file right here on SQLite."""
        rows = await self.all(lookup, **parameters)
        return rows[0] if rows else None

    async def all(self, lookup: Lookup, /, **parameters: Any) -> list[Any]:
        """``lookup.all(…)`` from a coroutine, as :meth:`first` runs it."""
        if self.backend == "postgresql":
            # A lookup is idempotent: a connection that died in the pool (the database
            # restarted, a backend was killed) costs one retry on a fresh one, not an error.
            for attempt in (1, 2):
                try:
                    async with self.reading_async() as reader:
                        return await lookup.all_async(reader, **parameters)
                except StaleConnection:
                    if attempt == 2:
                        raise
        return await self.run(self._all, lookup, parameters)

    def _all(self, lookup: Lookup, parameters: dict[str, Any]) -> list[Any]:
        with self.reading() as reader:
            return lookup.all(reader, **parameters)

    async def run(self, work: Callable[..., T], /, *args: Any) -> T:
        """Run ``work(*args)``, which uses this database synchronously, from a coroutine:
        in a worker thread, so the event loop goes on serving other requests meanwhile
        (a SQLite read can wait on the disk, a PostgreSQL one on the network)."""
        return await asyncio.get_running_loop().run_in_executor(None, partial(work, *args))

    def migrate(self) -> None:
        """Apply every pending Alembic migration."""
        if self._at_head():
            return
        try:
            with self.engine.begin() as connection:
                if self.backend == "postgresql":
                    # Two nodes starting together must not both run the same migration.
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                    )
                from alembic import command

                command.upgrade(_alembic_config(connection), "head")
        except (OperationalError, DBAPIError) as exc:
            raise Unavailable(f"cannot migrate the database: {_short(exc)}") from exc

    def _at_head(self) -> bool:
        """Whether the schema is already at this code's newest migration, asked without
        Alembic, so a command on a current database does not pay for importing it."""
        try:
            with self.engine.connect() as connection:
                applied = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                return applied.scalars().all() == [newest_migration()]
        except DBAPIError:
            return False  # no version table yet, or no database: migrate() says which

    def pending_migrations(self) -> set[str]:
        """Revision ids that exist in code but are not yet applied."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        with self.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
            script = ScriptDirectory.from_config(_alembic_config(connection))
            applied = set()
            for head in current:
                applied.update(rev.revision for rev in script.iterate_revisions(head, "base"))
            return {rev.revision for rev in script.walk_revisions()} - applied

    def ping(self) -> bool:
        """Whether the database answers: one statement, with no transaction around it."""
        try:
            with self.autocommit() as connection:
                cursor = connection.cursor()
                try:
                    cursor.execute("SELECT 1")
                    cursor.fetchall()
                finally:
                    cursor.close()
        except (Unavailable, self._dbapi.Error):
            return False
        return True

    def dispose(self) -> None:
        self.broadcaster.stop()
        self._stop_checkpoints()
        # Pools of loops that ended without close_async: their connections close as the
        # pools are collected.
        self._async_pools.clear()
        # Connections in use now are closed when they come back (see autocommit).
        idle, self._idle_connections = self._idle_connections, []
        for connection in idle:
            connection.close()
        self.engine.dispose()


def _attempts(pool: Any) -> tuple[int, int]:
    """An asyncio pool's failed connection attempts so far, and its successful ones."""
    stats = pool.get_stats()
    errors = stats.get("connections_errors", 0)
    return errors, stats.get("connections_num", 0) - errors


LOOP_IO = {"mode": "warn"}
"""What synchronous database work on an event loop's thread does: ``"warn"`` logs it
(once per call site), ``"raise"`` raises :class:`LoopBlocked` (the test suite's mode)."""
_warned_sites: set[tuple[str, int]] = set()
_warned_lock = threading.Lock()


def _blocking_the_loop() -> None:
    if LOOP_IO["mode"] == "raise":
        raise LoopBlocked("synchronous database work on the event loop's thread")
    caller = next(
        (
            f
            for f in reversed(traceback.extract_stack(limit=12))
            if "/limen/store/" not in f.filename
        ),
        None,
    )
    site = (caller.filename, caller.lineno or 0) if caller else ("?", 0)
    with _warned_lock:
        if site in _warned_sites:
            return
        _warned_sites.add(site)
    log.warning("synchronous database work on the event loop's thread at %s:%d", *site)


def _alembic_config(connection: sa.Connection) -> Config:
    # Alembic (with Mako and Pygments behind it) is imported only where migrations are
    # looked at: a command that reads a secret never needs it (benchmarks/startup.py).
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _short(exc: BaseException) -> str:
    # Driver messages can run to many lines with SQL; the first line says what happened.
    text = str(getattr(exc, "orig", exc)) or type(exc).__name__
    return text.strip().splitlines()[0]


class _InUse:
    """PostgreSQL connections handed out right now (to a unit of work, a lookup).

    When the database stops answering without closing anything (packets dropped), a
    request using one waits for TCP to give up, minutes later; the change feed's watchdog
    notices within ``SILENT_SECONDS`` and :meth:`shut_down` ends each one's socket, so
    the request fails with 503 instead. A connection leaves this set (under the lock)
    before it is returned or closed, so no descriptor is shut down once it is reused.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # id → (connection, when it was handed out)
        self._connections: dict[int, tuple[Any, float]] = {}

    def add(self, connection: Any) -> None:
        with self._lock:
            self._connections[id(connection)] = (connection, time.monotonic())

    def discard(self, connection: Any) -> None:
        if connection is None:
            return
        with self._lock:
            self._connections.pop(id(connection), None)

    def shut_down(
        self,
        *,
        older_than: float = 0.0,
        waiting_only: bool = False,
        first: Callable[[], None] | None = None,
    ) -> None:
        """Shut down the sockets of the connections in use for ``older_than`` seconds or
        more (all of them by default), calling ``first`` before the first one. With
        ``waiting_only``, only those waiting for the database to answer a command: a
        connection its request holds between statements is not stuck on the database,
        and a busy (not silent) database must not cost that request a 503."""
        with self._lock:
            now = time.monotonic()
            stuck = [
                c
                for c, since in self._connections.values()
                if now - since >= older_than and (not waiting_only or _awaits_answer(c))
            ]
            if stuck and first is not None:
                first()
            for connection in stuck:
                with contextlib.suppress(Exception):
                    if not connection.closed:
                        shut_down_socket(connection.pgconn.socket)


def _awaits_answer(connection: Any) -> bool:
    """Whether a psycopg connection has sent a command whose answer has not come."""
    from psycopg import pq  # only PostgreSQL connections are ever in use here

    with contextlib.suppress(Exception):
        return bool(connection.pgconn.transaction_status == pq.TransactionStatus.ACTIVE)
    return False


def _create_engine(url: str, *, echo: bool, in_use: _InUse, database: Database) -> Engine:
    # hide_parameters: a failing statement's bound values (hashes, ciphertext) stay out of
    # exception messages and therefore out of logs.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        # Enough pooled connections for the request thread pool and background workers:
        # an overflow connection is closed when returned, and opening one runs the WAL
        # pragmas again, which costs more than the query it was opened for.
        kwargs.update(pool_size=20, max_overflow=20)
    else:
        # A database that does not answer fails a request at once, not after the pool's 30 s
        # (see FAIL_FAST_SECONDS).
        kwargs.update(
            pool_size=20,
            max_overflow=20,
            # A request connects itself when the pool has no idle connection (a refused
            # connection fails at once): only waits while all 40 are in use end here.
            pool_timeout=BUSY_CHECKOUT_SECONDS,
            connect_args=dict(NETWORK),
        )
    engine = sa.create_engine(url, **kwargs)

    @event.listens_for(engine, "checkout")
    def _off_the_loop(*_: Any) -> None:
        if asyncio._get_running_loop() is not None:
            _blocking_the_loop()

    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    else:
        _track_connections_in_use(engine, in_use)
        _close_connections_of_disposed_pools(engine)
        _ping_idle_connections(engine, database._may_wait)
        _connect_while_answered(engine, database._gives_up)
    return engine


def _track_connections_in_use(engine: Engine, in_use: _InUse) -> None:
    """Keep ``in_use`` to the connections checked out of ``engine``'s pool (registered
    before the idle ping, so a connection being pinged is in it too)."""

    @event.listens_for(engine, "checkout")
    def _out(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        in_use.add(dbapi_connection)

    for name in ("checkin", "invalidate", "close", "detach"):
        event.listen(engine, name, lambda dbapi_connection, *_: in_use.discard(dbapi_connection))


def _close_connections_of_disposed_pools(engine: Engine) -> None:
    """Close a connection given back after its pool was disposed (a fault: the change
    feed lost the database, or a statement found its connection dead).

    ``Engine.dispose`` closes only the idle connections; one in use at that moment goes
    back to the old pool when its request ends, and stays open there, a half-closed
    socket with libpq's buffers, until a full garbage collection frees the pool: node A's
    descriptors climbed fault after fault in ``benchmarks/soak.py``.

    A connection being made when the pool is disposed is counted from the moment its
    attempt began: it belongs to the old pool too, and connecting takes long enough
    during a fault (the database refuses or is slow, requests reconnect all at once)
    that the pool is often replaced meanwhile. Counted from its first checkout, it went
    back to the old pool still open, unreachable but for the pool's own cycle, until a
    full collection: node B's open sockets climbed with the faults in the soak.
    """
    disposals = [0]

    @event.listens_for(engine, "engine_disposed")
    def _disposed(_engine: Engine) -> None:
        disposals[0] += 1

    @event.listens_for(engine, "do_connect")
    def _connecting(_dialect: Any, record: Any, _cargs: Any, _cparams: Any) -> None:
        if record is not None:
            record.info["limen.connecting"] = disposals[0]
        # None: the connection is made by the next hook (or SQLAlchemy itself).

    @event.listens_for(engine, "checkout")
    def _out(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        record.info["limen.disposals"] = record.info.pop("limen.connecting", disposals[0])

    @event.listens_for(engine, "checkin")
    def _back(dbapi_connection: Any, record: Any) -> None:
        taken = record.info.get("limen.disposals", disposals[0])
        if dbapi_connection is not None and taken != disposals[0]:
            record.invalidate()


_PING_IF_IDLE_FOR_S = 1.0


def _ping_idle_connections(engine: Engine, may_wait: Callable[[], bool]) -> None:
    """Check a pooled connection before use only if it sat idle for a while.

    A server restart or a failover while a connection sat in the pool would otherwise
    hand a dead connection to the next request. SQLAlchemy's ``pool_pre_ping`` checks on
    every checkout, which on a busy node is one more round trip per statement group; a
    connection in steady use is known to be alive, and if the server goes away under
    load the first error invalidates the whole pool anyway.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["limen.idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("limen.idle_since")
        if idle_since is None or time.monotonic() - idle_since < _PING_IF_IDLE_FOR_S:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:
            if not may_wait():
                # The database is away, or a request just gave up on it (its connections
                # were shut down while it stayed silent): another would only wait to fail.
                raise Unavailable("the database cannot be reached; retry shortly") from exc
            # The pool discards this connection and checks out another.
            raise DisconnectionError("a pooled connection was dead") from exc


def _connect_while_answered(engine: Engine, gives_up: Callable[[float], bool]) -> None:
    """A request that opens a connection waits for it only as it would for a statement:
    libpq's connect timeout cannot be under 2 s, and in the first moments of a silent
    database (before the change feed declares it away) an attempt waits all of that.
    The attempt goes on in a thread of its own; the request gives up on it when
    ``gives_up(seconds waited)`` says so, and a connection made after that is closed."""

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        return _Attempt(partial(dialect.connect, *cargs, **cparams)).wait(gives_up)


class _Attempt:
    """One connection being made on a thread of its own, which its caller may abandon."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._abandoned = False
        self._connection: Any = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name="limen-connect", daemon=True).start()

    def _run(self) -> None:
        try:
            connection = self._connect()
        except BaseException as exc:
            with self._lock:
                self._error = exc
                self._done.set()
            return
        with self._lock:
            abandoned = self._abandoned
            self._connection = connection
            self._done.set()
        if abandoned:
            with contextlib.suppress(Exception):
                connection.close()

    def wait(self, gives_up: Callable[[float], bool]) -> Any:
        started = time.monotonic()
        while not self._done.wait(_CONNECT_SLICE_SECONDS):
            if gives_up(time.monotonic() - started):
                with self._lock:
                    if not self._done.is_set():
                        self._abandoned = True
                        raise Unavailable("the database is not answering; retry shortly")
                break
        if self._error is not None:
            raise self._error
        return self._connection


_CONNECT_SLICE_SECONDS = 0.05


def _checkpointed(database: Database, path: str | None) -> Callable[[], None]:
    """Have the process's checkpointer copy this SQLite file's log while ``database`` is
    open (until it is disposed or collected); returns what stops it."""
    if database.backend != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return lambda: None
    path = os.path.abspath(path)
    checkpoints.add(path)
    return weakref.finalize(database, checkpoints.remove, path)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")  # see store/checkpoint.py
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        # Straight to the driver: this runs for every transaction, and a full SQLAlchemy
        # execution of a constant statement is several times the cost of the BEGIN itself.
        connection.connection.dbapi_connection.execute(f"BEGIN {mode}")
