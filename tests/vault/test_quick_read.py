"""``limen read`` on the embedded database takes a quick path (no SQLAlchemy, no pydantic:
``limen.vault.QuickVault``); these tests hold it equal to the general path, which the same
command takes whenever another setting is given (here ``LIMEN_LOG_LEVEL``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from limen._quick_settings import FIELDS
from limen.audit import Actor, AuditKeys, create_checkpoint, link_pending, verify
from limen.config import Settings
from limen.installation import InitResult
from limen.keyfile import create_key_file
from limen.store import Database
from limen.vault import QuickVault

SECRET = "pa55-Quick-Heron-4417"  # limen:allow (made up; tests look for it)
# Any setting the quick path leaves to the settings sends the command the general way.
GENERAL = {"LIMEN_LOG_LEVEL": "info"}


@pytest.fixture
def backend() -> str:
    """The quick path is the embedded database's (PostgreSQL always takes the general one)."""
    return "sqlite"


def _cli(settings: Settings, *args: str, extra: dict[str, str] | None = None) -> Any:
    from limen.cli.main import app

    env = {"LIMEN_DATA_DIR": str(settings.data_dir), **(extra or {})}
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def _setup(settings: Settings) -> None:
    for args in (
        ("vault", "create", "quick"),
        ("item", "create", "--vault", "quick", "--title", "db", f"password={SECRET}",
         "Replica.host=db-2.internal", "Primary.host=db-1.internal"),
        ("item", "create", "--vault", "quick", "--title", "twin", "a=1"),
        ("item", "create", "--vault", "quick", "--title", "twin", "a=2"),
    ):  # fmt: skip
        assert _cli(settings, *args).exit_code == 0


def _secret_reads(db: Database) -> list[dict[str, Any]]:
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT actor_id, actor_kind, actor_name, delegation, token_id, action, "
            "resource_type, resource_id, resource_name, outcome, reason, context "
            "FROM events WHERE action LIKE 'vault.%read' ORDER BY seq"
        ).mappings()
        return [dict(r) for r in rows]


CASES = [
    ("read", "limen://quick/db/password"),
    ("read", "--json", "limen://quick/db/password"),
    ("read", "-n", "limen://quick/db/Replica/host"),
    ("read", "limen://quick/db/host"),  # two fields match: ambiguous
    ("read", "limen://quick/db/nope"),
    ("read", "limen://quick/nope/password"),
    ("read", "limen://nope/db/password"),
    ("read", "limen://quick/twin/a"),  # two items titled alike
    ("read", "limen://quick/db"),  # not a reference
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c) for c in CASES])
def test_quick_and_general_paths_answer_and_record_alike(
    settings: Settings, installed: InitResult, db: Database, argv: tuple[str, ...]
) -> None:
    _setup(settings)
    before = len(_secret_reads(db))
    general = _cli(settings, *argv, extra=GENERAL)
    after_general = _secret_reads(db)
    quick = _cli(settings, *argv)
    after_quick = _secret_reads(db)
    assert (quick.exit_code, quick.stdout, quick.stderr) == (
        general.exit_code,
        general.stdout,
        general.stderr,
    )
    assert after_quick[len(after_general) :] == after_general[before:]
    if general.exit_code == 0:
        assert len(after_general) == before + 1
        assert SECRET not in json.dumps(after_general[-1], default=str)


def test_events_from_the_quick_path_are_sealed_and_link_into_a_verified_chain(
    settings: Settings, installed: InitResult, db: Database
) -> None:
    _setup(settings)
    keys = AuditKeys.from_key_file(settings.resolved_key_file)
    link_pending(
        db, keys.chain, seal_key=keys.seal
    )  # linked events: the quick path checks the key against them
    assert _cli(settings, "read", "limen://quick/db/password").stdout == SECRET + "\n"
    link_pending(db, keys.chain, seal_key=keys.seal)
    report = verify(db, keys)
    assert report.ok, report.problems
    with db.engine.connect() as connection:
        assert (
            connection.exec_driver_sql(
                "SELECT count(*) FROM events WHERE chain_pos IS NULL"
            ).scalar()
            == 0
        )


def test_a_key_file_that_is_not_the_installations_is_refused_the_same_way(
    settings: Settings, installed: InitResult, db: Database, tmp_path: Path
) -> None:
    _setup(settings)
    link_pending(db, AuditKeys.from_key_file(settings.resolved_key_file).chain)
    other = tmp_path / "other.key"
    create_key_file(other)
    wrong = {"LIMEN_KEY_FILE": str(other)}
    ref = "limen://quick/db/password"
    results = [_cli(settings, "read", ref, extra={**wrong, **extra}) for extra in (GENERAL, {})]
    assert results[0].exit_code != 0 and "not this installation's key" in results[0].stderr
    assert [(r.exit_code, r.stderr) for r in results[1:]] == [
        (results[0].exit_code, results[0].stderr)
    ]


def test_the_quick_path_knows_every_setting() -> None:
    # A setting it did not know of would be ignored instead of sending it the general way.
    assert set(Settings.model_fields) == FIELDS


def test_read_imports_no_database_or_settings_library(
    settings: Settings, installed: InitResult
) -> None:
    _setup(settings)
    runner = (
        "import json, sys\n"
        "sys.argv = ['limen', 'read', 'limen://quick/db/password']\n"
        "from limen.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "LIMEN_DATA_DIR": str(settings.data_dir)}
    for name in [n for n in env if n.upper().startswith("LIMEN_") and n != "LIMEN_DATA_DIR"]:
        del env[name]
    done = subprocess.run(
        [sys.executable, "-c", runner], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout == SECRET + "\n"
    loaded = {name.split(".")[0] for name in json.loads(done.stderr)}
    heavy = {"sqlalchemy", "alembic", "pydantic", "pydantic_settings", "rich", "argon2"}
    assert loaded & heavy == set()


def test_the_quick_path_opens_on_a_trail_linked_and_checkpointed_with_this_key_only(
    settings: Settings, installed: InitResult, db: Database, tmp_path: Path
) -> None:
    _setup(settings)
    keys = AuditKeys.from_key_file(settings.resolved_key_file)
    other = tmp_path / "other.key"
    create_key_file(other)
    database_file = settings.data_dir / "limen.db"

    def answers(key_file: Path) -> str | None:
        quick = QuickVault.open(database_file, key_file)
        if quick is None:
            return None
        try:
            found = quick.resolve(Actor.operator(), "limen://quick/db/password", purpose="read")
        finally:
            quick.close()
        return None if found is None else found.value

    assert answers(settings.resolved_key_file) == SECRET
    assert answers(other) is None  # the vault's key is not this one either
    link_pending(db, keys.chain, seal_key=keys.seal)
    assert answers(settings.resolved_key_file) == SECRET
    assert create_checkpoint(db, keys) is not None
    assert answers(settings.resolved_key_file) == SECRET
    # Another service (a PostgreSQL installation, a token's actor) is the general path's.
    quick = QuickVault.open(database_file, settings.resolved_key_file)
    assert quick is not None
    assert quick.resolve(Actor.system(), "limen://quick/db/password", purpose="read") is None
    quick.close()


TEMPLATES = [
    "url: postgres://app:{{ limen://quick/db/password }}@{{ limen://quick/db/Primary/host }}\n",
    "missing: {{ limen://quick/db/nope }}\n",
]


@pytest.mark.parametrize("template", TEMPLATES, ids=["resolves", "missing-field"])
def test_run_and_inject_answer_and_record_alike_on_both_paths(
    settings: Settings, installed: InitResult, db: Database, tmp_path: Path, template: str
) -> None:
    _setup(settings)
    reference = template.split("{{ ")[1].split(" }}")[0]
    env_file = tmp_path / "app.env"
    env_file.write_text(f"DB_PASSWORD={reference}\n")
    show = "import os; print(os.environ['DB_PASSWORD'])"
    results = []
    for extra in (GENERAL, {}):
        before = len(_secret_reads(db))
        runner = CliRunner()
        from limen.cli.main import app

        env = {"LIMEN_DATA_DIR": str(settings.data_dir), **extra}
        injected = runner.invoke(app, ["inject"], input=template, env=env)
        ran = runner.invoke(
            app, ["run", "--env-file", str(env_file), "--", sys.executable, "-c", show], env=env
        )
        events = _secret_reads(db)[before:]
        results.append(
            (
                (injected.exit_code, injected.stdout, injected.stderr),
                (ran.exit_code, ran.stdout, ran.stderr),
                events,
            )
        )
    assert results[0] == results[1]
    (inject_code, _, _), (run_code, _, _), events = results[0]
    if "nope" in template:
        assert (inject_code, run_code, events) == (3, 3, [])
    else:
        assert (inject_code, run_code, len(events)) == (0, 0, 3)
    assert SECRET not in json.dumps(events, default=str)


def test_a_path_option_is_checked_as_typer_checks_it(
    settings: Settings, installed: InitResult, tmp_path: Path
) -> None:
    # run and inject convert their options without pydantic; a path's checks remain.
    result = _cli(settings, "inject", "-i", str(tmp_path))
    assert result.exit_code == 2
    assert f"file '{tmp_path}' is a directory." in result.stderr
    result = _cli(settings, "run", "--env-file", str(tmp_path), "--", "true")
    assert result.exit_code == 2
    assert f"file '{tmp_path}' is a directory." in result.stderr


def test_the_quick_path_reads_only_what_cannot_differ_from_the_settings(tmp_path: Path) -> None:
    from limen._quick_settings import embedded_paths

    data = tmp_path / "data"
    assert embedded_paths(data, None, {}) == (data / "limen.db", data / "limen.key")
    key = tmp_path / "keys" / "root.key"
    assert embedded_paths(data, None, {"LIMEN_KEY_FILE": str(key)}) == (data / "limen.db", key)
    # Not a setting: ignored by the settings too.
    assert embedded_paths(data, None, {"LIMEN_TEST_POSTGRES_URL": "x"}) is not None
    for environ in (
        {"LIMEN_KEY_PASSPHRASE": "s3cret"},  # limen:allow (made up)
        {"LIMEN_PORT": "not a port"},  # the settings would refuse it
        {"limen_key_file": str(key)},  # the settings read names in any case
        {"LIMEN_KEY_FILE": ""},
    ):
        assert embedded_paths(data, None, environ) is None, environ
    assert embedded_paths(data, "postgresql+psycopg://db/limen", {}) is None
    # As Settings resolves them, with the same defaults.
    settings = Settings(data_dir=data)
    assert embedded_paths(data, None, {}) == (
        Path(settings.resolved_database_url.removeprefix("sqlite:///")),
        settings.resolved_key_file,
    )
