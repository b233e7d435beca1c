"""The database layer on PostgreSQL: pooled connections that the server dropped."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from limen.errors import Unavailable
from limen.store import Database
from limen.store import db as store_db


@pytest.fixture
def dropped_pool(backend: str, database_url: str | None) -> Database:
    """A database whose pooled connections the PostgreSQL server has just terminated."""
    if backend != "postgres" or database_url is None:
        pytest.skip("only a PostgreSQL server drops connections under a running pool")
    name = f"limen-{uuid.uuid4().hex[:8]}"
    db = Database(f"{database_url}&application_name={name}")
    for _ in range(3):
        with db.reading() as connection:
            connection.execute(sa.text("SELECT 1"))
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.scalar(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": name},
        )
    admin.dispose()
    assert killed >= 1
    return db


def test_a_connection_dropped_while_idle_is_replaced_before_use(
    dropped_pool: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the connections had sat idle past the threshold (a restart at night).
    monkeypatch.setattr(store_db, "_PING_IF_IDLE_FOR_S", 0.0)
    try:
        with dropped_pool.reading() as connection:
            assert connection.execute(sa.text("SELECT 41 + 1")).scalar() == 42
        with dropped_pool.unit_of_work() as uow:
            assert uow.session.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        dropped_pool.dispose()


def test_a_connection_dropped_while_busy_costs_at_most_one_clear_failure(
    dropped_pool: Database,
) -> None:
    failures = 0
    try:
        for _ in range(3):
            try:
                with dropped_pool.unit_of_work(readonly=True) as uow:
                    assert uow.session.execute(sa.text("SELECT 1")).scalar() == 1
            except Unavailable as exc:
                assert str(exc) == "the database cannot be reached"
                failures += 1
    finally:
        dropped_pool.dispose()
    assert failures <= 1
