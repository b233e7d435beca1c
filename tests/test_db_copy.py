"""``limen db copy``: an installation moves to another database, SQLite to PostgreSQL or
back, and everything works there: secrets read, identities and tokens hold, the audit
trail verifies and goes on growing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from limen.cli.main import app as cli_app
from tests.conftest import CliResult

SECRET = "copy-test-7f3c1e9b2a"


def _limen(env: dict[str, str], *args: str) -> CliResult:
    result = CliRunner().invoke(cli_app, list(args), env=env, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def _populated(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {"LIMEN_DATA_DIR": str(data_dir)}
    if database_url:
        env["LIMEN_DATABASE_URL"] = database_url
    for args in (
        ("init", "--admin-email", "admin@example.com"),
        (
            "identity",
            "create",
            "--kind",
            "agent",
            "--name",
            "copy-bot",
            "--owner",
            "admin@example.com",
        ),
        ("identity", "create", "--kind", "human", "--name", "bob", "--email", "bob@example.com"),
        ("vault", "create", "payments"),
        ("item", "create", "--vault", "payments", "--title", "stripe", f"password={SECRET}"),
        ("audit", "checkpoint"),
    ):
        result = _limen(env, *args)
        assert result.exit_code == 0, (args, result.stderr)
    _owned_by_a_row_copied_after_it(env)
    return env


def _owned_by_a_row_copied_after_it(env: dict[str, str]) -> None:
    """Give a human an agent whose id sorts before the human's: rows are copied in id
    order, so the agent arrives before its owner does. Ids are random: the owner is the
    human whose id sorts last, so an agent sorting before it takes few tries."""
    humans = [
        json.loads(_limen(env, "identity", "show", name, "--json").stdout)["id"]
        for name in ("bob", "admin@example.com")
    ]
    owner = max(humans)
    for n in range(50):
        created = _limen(
            env,
            "identity",
            "create",
            "--kind",
            "agent",
            "--name",
            f"helper-{n}",
            "--owner",
            "admin@example.com",
            "--json",
        )
        if json.loads(created.stdout)["id"] < owner:
            moved = _limen(env, "identity", "update", f"helper-{n}", "--owner", owner)
            assert moved.exit_code == 0, moved.stderr
            return
    raise AssertionError("no agent id sorted before its owner's in 50 tries")


def _count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
    finally:
        engine.dispose()


def test_an_installation_copied_to_another_database_works_there(
    tmp_path: Path, empty_database_url: str
) -> None:
    env = _populated(tmp_path / "data")
    result = _limen(env, "db", "copy", "--to", empty_database_url)
    assert result.exit_code == 0, result.stderr
    assert "audit trail verified on the copy" in result.stdout
    moved = {**env, "LIMEN_DATABASE_URL": empty_database_url}

    read = _limen(moved, "read", "limen://payments/stripe/password")
    assert (read.exit_code, read.stdout.strip()) == (0, SECRET)
    listed = json.loads(_limen(moved, "identity", "list", "--json").stdout)["items"]
    ids = {i["id"] for i in listed}
    assert [
        i["name"]
        for i in listed
        if i["name"].startswith("helper-") and i.get("owner_id") in ids and i["id"] < i["owner_id"]
    ]
    # New rows get new ids (PostgreSQL's sequences moved past the copied ones), and the
    # trail goes on from where the copy left it.
    created = _limen(moved, "identity", "create", "--kind", "service", "--name", "after-copy")
    assert created.exit_code == 0, created.stderr
    verified = _limen(moved, "audit", "verify")
    assert verified.exit_code == 0, verified.stderr
    assert "1 signed checkpoints agree" in verified.stdout
    copy_event = _limen(moved, "events", "list", "--action", "database.copy", "--json")
    assert copy_event.exit_code == 0 and "database.copy" in copy_event.stdout


def test_a_copy_back_from_postgresql_to_sqlite_verifies(
    tmp_path: Path, empty_database_url: str, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("this copies out of PostgreSQL")
    env = _populated(tmp_path / "data", empty_database_url)
    back = f"sqlite:///{tmp_path / 'back.db'}"
    result = _limen(env, "db", "copy", "--to", back, "--json")
    assert result.exit_code == 0, result.stderr
    moved = {"LIMEN_DATA_DIR": str(tmp_path / "data"), "LIMEN_DATABASE_URL": back}
    assert _limen(moved, "read", "limen://payments/stripe/password").stdout.strip() == SECRET
    assert _limen(moved, "audit", "verify").exit_code == 0


def test_a_target_that_holds_data_is_refused_and_left_alone(
    tmp_path: Path, empty_database_url: str
) -> None:
    env = _populated(tmp_path / "data")
    assert _limen(env, "db", "copy", "--to", empty_database_url).exit_code == 0
    events = _count(empty_database_url, "events")
    again = _limen(env, "db", "copy", "--to", empty_database_url)
    assert again.exit_code != 0
    assert again.stderr.startswith("limen: the target database already holds Limen data")
    assert len(again.stderr.strip().splitlines()) == 1
    assert _count(empty_database_url, "events") == events


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgress://limen@db/limen", "not 'postgress'"),
        ("db.internal/limen", "is not a database URL"),
    ],
)
def test_a_mistyped_target_gets_one_line(tmp_path: Path, url: str, says: str) -> None:
    env = _populated(tmp_path / "data")
    result = _limen(env, "db", "copy", "--to", url)
    assert result.exit_code == 2
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_copy_keeps_secrets_encrypted(tmp_path: Path) -> None:
    env = _populated(tmp_path / "data")
    target = tmp_path / "copy.db"
    assert _limen(env, "db", "copy", "--to", f"sqlite:///{target}").exit_code == 0
    for path in tmp_path.glob("copy.db*"):  # the file and its write-ahead log
        assert SECRET.encode() not in path.read_bytes()
