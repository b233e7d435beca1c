"""A command that talks to a server (``LIMEN_URL``) loads neither the database layer nor
the migrations: the server does that work, and a remote command starts in a fraction of
the time a local one takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.commands import run_and_list_modules
from tests.conftest import LiveServer

DATABASE_LIBRARIES = ("sqlalchemy", "alembic", "psycopg")


@pytest.mark.parametrize(
    "argv",
    [
        ("identity", "list", "--json"),
        ("identity", "show", "admin@example.com", "--json"),
        ("events", "list", "--limit", "2", "--json"),
        ("client", "list", "--json"),
        ("token", "list", "--json"),
        ("alert", "list", "--json"),
        ("vault", "list", "--json"),
        ("audit", "search", "--limit", "2", "--json"),
        ("audit", "checkpoints", "--json"),
        ("audit", "prune", "--before", "2020-01-01T00:00:00Z", "--json"),
        ("sink", "list", "--json"),
        ("events-token", "create", "--features", "auditevents", "--json"),
        ("policy", "list", "--json"),
        ("policy", "show", "limen-admin", "--json"),
        ("killswitch", "status", "--json"),
        ("partner", "list", "--json"),
        ("fleet", "machines", "--json"),
    ],
)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_remote_command_does_not_load_the_database_layer(
    tmp_path: Path, live_server: LiveServer, installed: Any, argv: tuple[str, ...]
) -> None:
    loaded = run_and_list_modules(
        tmp_path,
        *argv,
        env={
            "LIMEN_URL": live_server.url,
            "LIMEN_TOKEN": installed.admin_token,
            "LIMEN_DATA_DIR": str(tmp_path / "elsewhere"),
        },
    )
    assert loaded.code == 0, loaded.stderr
    json.loads(loaded.stdout)
    assert sorted(loaded.tops & set(DATABASE_LIBRARIES)) == []
