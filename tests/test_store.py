"""The database layer: lookups on the driver's cursor, pooled connections that the
PostgreSQL server dropped, and status messages between nodes."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from limen import identity
from limen.audit import Actor
from limen.errors import Unavailable
from limen.installation import InitResult
from limen.store import Database, Lookup
from limen.store import db as store_db
from limen.store.checkpoint import BACKSTOP_PAGES, checkpoints
from limen.store.models import Identity
from tests.respond._waiting import wait_for

_ANSWER = Lookup(sa.select((sa.literal(41) + sa.bindparam("one")).label("answer")))

_IDENTITIES = Lookup(
    sa.select(
        Identity.id,
        Identity.kind,
        Identity.name,
        Identity.email,
        Identity.status,
        Identity.attributes,
        Identity.created_at,
    )
    .where(Identity.kind == sa.bindparam("kind"))
    .order_by(Identity.name)
    .limit(2)
)


def test_a_lookup_returns_what_core_returns(db: Database, installed: InitResult) -> None:
    for n in range(3):
        with db.unit_of_work() as uow:
            identity.create(
                uow,
                Actor.system("test"),
                kind="service",
                name=f"bot-{n}",
                attributes={"n": n, "tags": ["a"]},
            )
    with db.reading() as reader:
        fast = _IDENTITIES.all(reader, kind="service")
        assert _ANSWER.first(reader, one=1).answer == 42
    with db.unit_of_work(readonly=True) as uow:
        core = _IDENTITIES.all(uow.session, kind="service")
    assert [row.name for row in fast] == ["bot-0", "bot-1"]  # ordered, and the LIMIT held
    assert [tuple(row) for row in fast] == [tuple(row) for row in core]
    for fast_row, core_row in zip(fast, core, strict=True):
        assert [type(v) for v in fast_row] == [type(v) for v in core_row]
    assert fast[0].created_at.tzinfo is not None
    assert fast[1].attributes == {"n": 1, "tags": ["a"]}


def test_transactions_still_roll_back_after_lookups(db: Database, installed: InitResult) -> None:
    # On PostgreSQL a lookup switches its pooled connection to autocommit; a unit of work
    # that later gets the same connection must still be one transaction.
    for _ in range(3):
        with db.reading() as reader:
            _ANSWER.first(reader, one=1)
    with pytest.raises(RuntimeError), db.unit_of_work() as uow:
        identity.create(uow, Actor.system("test"), kind="service", name="never")
        uow.flush()
        raise RuntimeError("abandon")
    with db.reading() as reader:
        assert _IDENTITIES.all(reader, kind="service") == []


def test_every_thread_reads_the_latest_commit_also_after_dispose(
    db: Database, installed: InitResult
) -> None:
    def create(name: str) -> None:
        with db.unit_of_work() as uow:
            identity.create(uow, Actor.system("test"), kind="service", name=name)

    def names() -> list[str]:
        with db.reading() as reader:
            return [row.name for row in _IDENTITIES.all(reader, kind="service")]

    assert names() == []
    committer = threading.Thread(target=create, args=("bot-a",))
    committer.start()
    committer.join()
    assert names() == ["bot-a"]
    seen: list[list[str]] = []
    reader_thread = threading.Thread(target=lambda: seen.append(names()))
    reader_thread.start()
    reader_thread.join()
    assert seen == [["bot-a"]]
    db.dispose()
    create("bot-b")
    assert names() == ["bot-a", "bot-b"]


def test_threads_that_read_in_turn_open_no_more_files(db: Database, installed: InitResult) -> None:
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("counting open files needs /proc")

    def read() -> None:
        with db.reading() as reader:
            _ANSWER.first(reader, one=1)

    read()
    before = len(os.listdir(fds))
    for _ in range(30):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    gc.collect()
    assert len(os.listdir(fds)) <= before + 3


def test_a_connection_abandoned_inside_a_transaction_is_not_handed_out_again(
    db: Database, installed: InitResult
) -> None:
    with pytest.raises(RuntimeError), db.autocommit() as connection:
        cursor = connection.cursor()
        # Holds the write lock (SQLite) or the table (PostgreSQL) until its transaction ends.
        if db.backend == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        else:
            cursor.execute("BEGIN")
            cursor.execute("LOCK TABLE identities IN EXCLUSIVE MODE")
        raise RuntimeError("abandoned")
    with db.unit_of_work() as uow:
        identity.create(uow, Actor.system("test"), kind="service", name="after")
    with db.reading() as reader:
        assert [row.name for row in _IDENTITIES.all(reader, kind="service")] == ["after"]


_COUNT = "count(*)"
_TERMINATE = "count(pg_terminate_backend(pid))"


def _sessions(database_url: str, name: str, aggregate: str) -> int:
    """``aggregate`` (count them, or terminate them) over the server sessions named ``name``."""
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return conn.scalar(
                sa.text(
                    f"SELECT {aggregate} FROM pg_stat_activity "  # noqa: S608 - fixed aggregates
                    "WHERE application_name = :name"
                ),
                {"name": name},
            )
    finally:
        admin.dispose()


@pytest.fixture
def named_postgres(backend: str, database_url: str | None) -> tuple[Database, str, str]:
    """A database on PostgreSQL whose server sessions carry a name of their own, the URL to
    administer them with, and the name."""
    if backend != "postgres" or database_url is None:
        pytest.skip("only a PostgreSQL server has sessions to count and drop")
    name = f"limen-{uuid.uuid4().hex[:8]}"
    return Database(f"{database_url}&application_name={name}"), database_url, name


def test_a_lookup_awaited_on_the_loop_returns_what_core_returns_and_closes_its_connections(
    named_postgres: tuple[Database, str, str], installed: InitResult
) -> None:
    db, admin_url, name = named_postgres
    with db.unit_of_work() as uow:
        identity.create(uow, Actor.system("test"), kind="service", name="bot", attributes={"n": 1})

    async def read() -> tuple[list[Any], int, int]:
        try:
            async with db.reading_async() as reader:
                rows = await _IDENTITIES.all_async(reader, kind="service")
                answer = (await _ANSWER.first_async(reader, one=1)).answer
            return rows, answer, _sessions(admin_url, name, _COUNT)
        finally:
            await db.close_async()

    try:
        fast, answer, open_while_reading = asyncio.run(read())
        with db.reading() as reader:
            threaded = _IDENTITIES.all(reader, kind="service")
        assert answer == 42
        assert [tuple(row) for row in fast] == [tuple(row) for row in threaded]
        assert [type(v) for v in fast[0]] == [type(v) for v in threaded[0]]
        assert open_while_reading >= 1
    finally:
        db.dispose()
    assert _sessions(admin_url, name, _COUNT) == 0


def test_connections_dropped_under_the_loop_cost_at_most_one_clear_failure(
    named_postgres: tuple[Database, str, str], installed: InitResult
) -> None:
    db, admin_url, name = named_postgres

    async def read_after_a_restart() -> int:
        async with db.reading_async() as reader:
            await _ANSWER.first_async(reader, one=1)
        assert _sessions(admin_url, name, _TERMINATE) >= 1
        failures = 0
        try:
            for _ in range(3):
                try:
                    async with db.reading_async() as reader:
                        assert (await _ANSWER.first_async(reader, one=1)).answer == 42
                except Unavailable as exc:
                    assert str(exc).startswith("the database cannot be reached")
                    failures += 1
            return failures
        finally:
            await db.close_async()

    try:
        assert asyncio.run(read_after_a_restart()) <= 1
    finally:
        db.dispose()


@pytest.fixture
def dropped_pool(named_postgres: tuple[Database, str, str]) -> Database:
    """A database whose pooled connections the PostgreSQL server has just terminated."""
    db, admin_url, name = named_postgres
    for _ in range(3):
        with db.reading() as reader:
            _ANSWER.first(reader, one=1)
    assert _sessions(admin_url, name, _TERMINATE) >= 1
    return db


def test_a_connection_dropped_while_idle_is_replaced_before_use(
    dropped_pool: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the connections had sat idle past the threshold (a restart at night).
    monkeypatch.setattr(store_db, "_PING_IF_IDLE_FOR_S", 0.0)
    try:
        with dropped_pool.reading() as reader:
            assert _ANSWER.first(reader, one=1).answer == 42
        with dropped_pool.unit_of_work() as uow:
            assert uow.session.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        dropped_pool.dispose()


def _through_a_unit_of_work(db: Database) -> None:
    with db.unit_of_work(readonly=True) as uow:
        assert uow.session.execute(sa.text("SELECT 1")).scalar() == 1


def _through_a_lookup(db: Database) -> None:
    with db.reading() as reader:
        assert _ANSWER.first(reader, one=1).answer == 42


@pytest.mark.parametrize("query", [_through_a_unit_of_work, _through_a_lookup])
def test_a_connection_dropped_while_busy_costs_at_most_one_clear_failure(
    dropped_pool: Database, query: Callable[[Database], None]
) -> None:
    failures = 0
    try:
        for _ in range(3):
            try:
                query(dropped_pool)
            except Unavailable as exc:
                assert str(exc).startswith("the database cannot be reached")
                failures += 1
        # And the pool serves the other kind of query afterwards.
        _through_a_unit_of_work(dropped_pool)
        _through_a_lookup(dropped_pool)
    finally:
        dropped_pool.dispose()
    assert failures <= 1


def test_ping_says_whether_the_database_answers(db: Database) -> None:
    assert db.ping() is True
    # Nothing listens on port 1: refused at once, reported rather than raised.
    gone = Database("postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2")
    try:
        assert gone.ping() is False
    finally:
        gone.dispose()


def test_nodes_that_spell_the_database_url_differently_hear_each_other_and_go_on_listening(
    db: Database, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("only PostgreSQL nodes hear each other; SQLite has one node")
    # Another host name, port or option in the URL is still the same database: here an
    # application name that only the second node sets.
    other = Database(db.url + ("&" if "?" in db.url else "?") + "application_name=node-b")
    heard: list[Any] = []
    other.broadcaster.subscribe("test.ping", heard.append)
    other.broadcaster.start()
    try:
        assert other.broadcaster.ready.wait(5) and other.broadcaster.listening
        with db.engine.begin() as connection:  # a stray message is ignored, not fatal
            connection.execute(
                sa.text("SELECT pg_notify('limen_' || md5(current_schema()), '[1]')")
            )
        with db.unit_of_work() as uow:
            uow.publish("test.ping", {"from": "node-a"})
        wait_for(lambda: heard, seconds=5)
        assert heard == [{"from": "node-a"}]
    finally:
        other.dispose()
    assert not other.broadcaster.listening


def test_a_sqlite_log_is_copied_into_the_database_file_in_the_background(tmp_path: Path) -> None:
    """No commit of ours fills the write-ahead log and then stops to copy it back (a
    checkpoint: a stall of milliseconds for whichever request made that commit)."""
    path = tmp_path / "c.db"
    db = Database(f"sqlite:///{path}")
    with db.engine.begin() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == BACKSTOP_PAGES
        connection.exec_driver_sql("CREATE TABLE t (x BLOB)")
    before = path.stat().st_size
    for _ in range(40):  # 1.6 MB: under SQLite's own 1,000-page threshold and our backstop
        with db.engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (randomblob(40000))")
    # Only a checkpoint writes pages into the database file itself.
    wait_for(lambda: path.stat().st_size > before + 1_000_000)
    assert str(path) in checkpoints.paths()
    db.dispose()
    assert str(path) not in checkpoints.paths()
