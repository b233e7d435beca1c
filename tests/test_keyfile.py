"""The root key file: never replaced, and a missing or foreign one is a clear error for
every command that needs it, before anything is linked, signed or sealed with it."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from limen.config import Settings
from limen.store import Database
from limen.testing import free_port


def _one_line(result: Any) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("limen: ")
    return lines[0]


def _unlinked(db: Database) -> int:
    with db.engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM events WHERE chain_pos IS NULL"))


def test_a_missing_key_is_never_replaced_and_each_command_says_to_restore_it(
    cli: Any, settings: Settings, tmp_path: Path
) -> None:
    assert cli("init").exit_code == 0
    assert cli("audit", "checkpoint").exit_code == 0  # the trail now depends on the key
    key = settings.resolved_key_file
    backup = tmp_path / "backup.key"
    shutil.move(key, backup)

    for args in (("init",), ("audit", "verify"), ("vault", "create", "payments")):
        result = cli(*args)
        assert result.exit_code == 6, (args, result.stderr)
        line = _one_line(result)
        assert str(key) in line and "restore it from your backup" in line, line
        assert "limen init" not in line
    assert not key.exists()  # init wrote no new key

    shutil.copy(backup, key)
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.stderr
    assert verified.stdout.startswith("ok: ")


def test_a_foreign_key_is_refused_before_it_links_signs_or_seals(
    cli: Any, settings: Settings, db: Database, tmp_path: Path
) -> None:
    cli("init")
    cli("audit", "checkpoint")
    key = settings.resolved_key_file
    original = key.read_bytes()
    cli("identity", "create", "--kind", "service", "--name", "after-checkpoint")
    pending = _unlinked(db)
    assert pending >= 1
    key.write_bytes(base64.b64encode(secrets.token_bytes(32)) + b"\n")

    for args in (
        ("audit", "search", "--limit", "1"),
        ("audit", "checkpoint"),
        ("vault", "create", "payments"),
        ("init",),
    ):
        result = cli(*args)
        assert result.exit_code == 6, (args, result.stdout, result.stderr)
        assert "is not this installation's key" in _one_line(result)
    assert _unlinked(db) == pending  # nothing was linked with the foreign key
    assert "payments" not in cli("vault", "list").stdout

    key.write_bytes(original)
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.stderr


def test_the_server_refuses_a_foreign_key_in_one_line(
    cli: Any, settings: Settings, backend: str
) -> None:
    cli("init")
    cli("audit", "checkpoint")
    settings.resolved_key_file.write_bytes(base64.b64encode(secrets.token_bytes(32)) + b"\n")
    env = {**os.environ, "LIMEN_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["LIMEN_DATABASE_URL"] = settings.database_url
    started = subprocess.run(
        [sys.executable, "-m", "limen", "server", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 6
    assert "is not this installation's key" in _one_line(started)
    assert started.stdout == ""
