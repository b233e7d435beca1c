"""``/ready`` tells a load balancer the truth about the schema: a node whose database has
not had this version's migrations is not ready (its database and change feed are fine),
while ``/health`` (liveness) stays 200. The database and change-feed checks are held in
``tests/test_faults.py`` and ``tests/access/test_status.py``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from limen.api import create_app
from limen.config import Settings
from limen.installation import InitResult
from limen.store import Database


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
