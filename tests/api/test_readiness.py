"""``/ready`` tells a load balancer the truth about the schema and the audit writer: a
node whose database has not had this version's migrations is not ready (its database
and change feed are fine), nor is one whose audit writer cannot commit, while
``/health`` (liveness) stays 200. The database and change-feed checks are held in
``tests/test_faults.py`` and ``tests/access/test_status.py``."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from limen.api import create_app
from limen.config import Settings
from limen.installation import InitResult
from limen.store import Database
from tests.conftest import serve


def test_a_node_on_a_schema_behind_its_version_is_alive_but_not_ready(
    backend: str, settings: Settings, db: Database, installed: InitResult
) -> None:
    if backend != "sqlite":
        pytest.skip("the PostgreSQL test schema is shared by the session: not rolled back here")
    with db.engine.begin() as connection:
        # As if the newest migration had not been applied (`limen db upgrade` not run).
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = :previous"),
            {"previous": "0012_item_rotation_needed"},
        )
    with TestClient(create_app(settings, database=db), base_url="http://limen.test") as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.headers["retry-after"] == "1"
        assert ready.json()["checks"] == {
            "database": True,
            "change_feed": True,
            "schema": False,
            "audit_writer": True,
        }
        assert client.get("/health").status_code == 200


def test_a_node_whose_audit_writer_is_held_up_is_not_ready_until_it_has_caught_up(
    backend: str,
    settings: Settings,
    db: Database,
    installed: InitResult,
    admin_headers: dict[str, str],
) -> None:
    """Someone holds a lock on the audit log (a long maintenance transaction): a decision
    waits for its event to be recorded, and the node says it is not ready, naming the
    audit writer; once the lock goes the decision is answered and the node is ready."""
    decision = {
        "subject": {"type": "identity", "id": "admin"},
        "action": {"name": "rotate"},
        "resource": {"type": "vault", "id": "prod"},
    }
    answered: list[httpx.Response] = []

    def decide(url: str) -> None:
        answered.append(
            httpx.post(
                f"{url}/access/v1/evaluation", json=decision, headers=admin_headers, timeout=60
            )
        )

    with (
        serve(create_app(settings, database=db)) as live,
        httpx.Client(base_url=live.url, timeout=10) as client,
    ):
        assert client.get("/ready").status_code == 200
        # Once before: the admin token's first use is written down (a write of its own).
        decide(live.url)
        assert answered.pop().status_code == 200
        with _audit_log_locked(backend, db):
            waiting = threading.Thread(target=decide, args=(live.url,))
            waiting.start()
            deadline = time.monotonic() + 30
            while (ready := client.get("/ready")).status_code == 200:
                assert time.monotonic() < deadline, "ready while its audit writer was held up"
                time.sleep(0.1)
            assert ready.status_code == 503
            assert ready.headers["retry-after"] == "1"
            assert ready.json()["checks"] == {
                "database": True,
                "change_feed": True,
                "schema": True,
                "audit_writer": False,
            }
            assert answered == [], "decided before its event was recorded"
            assert client.get("/health").status_code == 200
        waiting.join(timeout=60)
        assert [r.status_code for r in answered] == [200]
        assert answered[0].json()["decision"] is True
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["audit_writer"] is True


@contextlib.contextmanager
def _audit_log_locked(backend: str, db: Database) -> Iterator[None]:
    """No event can be written meanwhile; reads go on."""
    if backend == "sqlite":
        holder = sqlite3.connect(db.engine.url.database or "", isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # the one write lock; WAL readers go on
            yield
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        return
    with db.engine.connect() as connection, connection.begin() as transaction:
        connection.execute(sa.text("LOCK TABLE events IN EXCLUSIVE MODE"))
        yield
        transaction.rollback()
