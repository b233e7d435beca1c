"""A command that talks to a server (``LIMEN_URL``) loads neither the database layer nor
the migrations: the server does that work, and a remote command starts in a fraction of
the time a local one takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer

DATABASE_LIBRARIES = ("sqlalchemy", "alembic", "psycopg")

RUNNER = """\
import json, sys
out, argv = sys.argv[1], sys.argv[2:]
sys.argv = ["limen", *argv]
from limen.cli.main import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
with open(out, "w") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""


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
    ],
)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_remote_command_does_not_load_the_database_layer(
    tmp_path: Path, live_server: LiveServer, installed: Any, argv: tuple[str, ...]
) -> None:
    out = tmp_path / "modules.json"
    env = {
        **os.environ,
        "LIMEN_URL": live_server.url,
        "LIMEN_TOKEN": installed.admin_token,
        "LIMEN_DATA_DIR": str(tmp_path / "elsewhere"),
    }
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(out), *argv],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert out.exists(), done.stderr
    report = json.loads(out.read_text())
    assert report["code"] == 0, done.stderr
    json.loads(done.stdout)
    tops = {name.split(".")[0] for name in report["modules"]}
    assert sorted(tops & set(DATABASE_LIBRARIES)) == []
