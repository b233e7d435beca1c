"""Shared fixtures: a real database on each backend, the real app, real HTTP, the real CLI.

Every storage test runs on SQLite and on PostgreSQL. PostgreSQL comes from
``LIMEN_TEST_POSTGRES_URL`` (``.ci/run`` sets it); without it those tests skip, except in
CI (``CI=true``), where an unreachable PostgreSQL fails the run instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from limen.api import create_app
from limen.config import Settings
from limen.installation import InitResult, initialise
from limen.store import Database
from limen.store.db import LOOP_IO
from limen.testing import free_port

POSTGRES_ENV = "LIMEN_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgres")

# A pytest-xdist worker starts with COLUMNS=80 and LINES=24 in its environment. The CLI's
# consoles are made when it is imported and would keep that width for good, whatever
# COLUMNS a test then runs a command with; without them they size as in one process.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` (minutes each) start first: when the suite runs in parallel
    (``-n auto``, the README's command), the others run beside them instead of after."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(autouse=True, scope="session")
def _no_database_work_on_the_event_loop() -> Iterator[None]:
    """Every test fails if a request handler (or anything on an event loop's thread)
    does synchronous database work: other requests on that loop would wait for it."""
    LOOP_IO["mode"] = "raise"
    yield
    LOOP_IO["mode"] = "warn"


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's LIMEN_* variables must not change a test's result."""
    for name in list(os.environ):
        if name.startswith("LIMEN_") and name != POSTGRES_ENV:
            monkeypatch.delenv(name)


def _postgres_base_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        return None
    return url


@pytest.fixture(scope="session")
def _postgres_schema() -> Iterator[str | None]:
    """One migrated schema for the whole session; each test truncates its tables."""
    base = _postgres_base_url()
    if base is None:
        yield None
        return
    schema = f"limen_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {POSTGRES_ENV} is unreachable in CI: {exc}")
        yield None
        return
    url = _schema_url(base, schema)
    db = Database(url)
    db.migrate()
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _schema_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "limen.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


_BIG_TABLE_ROWS = 5000


def _empty_all(url: str) -> None:
    """Empty every table of the test schema and restart its sequences.

    Rows are deleted rather than the tables truncated: a TRUNCATE of the schema's tables
    gives every table and index new files, about 0.8 s per test on a 2-core CI machine,
    paid by every PostgreSQL test; deleting the few rows a test leaves takes about 25 ms.
    Foreign keys and triggers are off for it (``session_replication_role``, which the
    CI's superuser may set), so the order does not matter. A table a test filled with
    many rows is still truncated, and so is everything where the role may not set it.
    """
    engine = sa.create_engine(url)
    # A process of the previous test (a server's detector child notices its parent is gone
    # within a second) may still be reading: PostgreSQL may pick the statement as the
    # victim of that deadlock, and then it is simply tried again.
    try:
        for attempt in range(5):
            try:
                with engine.begin() as conn:
                    _empty_tables(conn)
                return
            except sa.exc.OperationalError as exc:
                if "deadlock detected" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.5)
    finally:
        engine.dispose()


def _empty_tables(conn: sa.Connection) -> None:
    tables = conn.scalars(
        sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> 'alembic_version' ORDER BY tablename"
        )
    ).all()
    if not tables:
        return
    conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
    try:
        with conn.begin_nested():
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
    except sa.exc.ProgrammingError:  # not a superuser: the slow way
        names = ", ".join(f'"{t}"' for t in tables)
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return
    counts = conn.execute(
        sa.text(
            " UNION ALL ".join(
                f"SELECT '{t}', (SELECT count(*) FROM "  # noqa: S608 - names from pg_tables
                f'(SELECT 1 FROM "{t}" LIMIT {_BIG_TABLE_ROWS + 1}) AS rows)'
                for t in tables
            )
        )
    ).all()
    big = [name for name, count in counts if count > _BIG_TABLE_ROWS]
    if big:
        conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in big)))
    for name, count in counts:
        if 0 < count <= _BIG_TABLE_ROWS:
            conn.execute(sa.text(f'DELETE FROM "{name}"'))  # noqa: S608 - from pg_tables
    for sequence in conn.scalars(
        sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
    ):
        conn.execute(sa.text(f'ALTER SEQUENCE "{sequence}" RESTART'))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(
    backend: str, tmp_path: Path, _sqlite_template: Path, _postgres_schema: str | None
) -> str | None:
    """The URL of an empty, migrated database on ``backend`` (``None``: default SQLite)."""
    if backend == "sqlite":
        shutil.copy(_sqlite_template, tmp_path / "limen.db")
        return None
    if _postgres_schema is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} pointing at a reachable server")
    _empty_all(_postgres_schema)
    return _postgres_schema


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on ``backend``, not migrated: its own PostgreSQL
    schema, dropped afterwards, or a new SQLite file."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    base = _postgres_base_url()
    if base is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} pointing at a reachable server")
    schema = f"limen_empty_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield _schema_url(base, schema)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """Settings on a free port: ``live_server`` listens there, so the installation's public
    URL (the issuer of its tokens, ``http://127.0.0.1:<port>``) is where it is reached."""
    return Settings(data_dir=tmp_path, database_url=database_url, port=free_port())


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture
def installed(db: Database, settings: Settings) -> InitResult:
    """An initialised installation; ``.admin_token`` is the first admin's token."""
    return initialise(db, key_file=settings.resolved_key_file, admin_email="admin@example.com")


@pytest.fixture
def admin_headers(installed: InitResult) -> dict[str, str]:
    return {"Authorization": f"Bearer {installed.admin_token}"}


@pytest.fixture
def app(settings: Settings, db: Database, installed: InitResult) -> Any:
    return create_app(settings, database=db)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """The real app over HTTP semantics, in process (runs the lifespan)."""
    with TestClient(app, base_url="http://limen.test", raise_server_exceptions=False) as test:
        yield test


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test runner owns signals
        pass


@dataclass
class LiveServer:
    url: str
    server: _ThreadServer


@contextlib.contextmanager
def serve(app: Any, *, port: int | None = None) -> Iterator[LiveServer]:
    """Run ``app`` under uvicorn on a loopback port (a free one by default) in a thread."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = _ThreadServer(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(app: Any, settings: Settings) -> Iterator[LiveServer]:
    with serve(app, port=settings.port) as live:
        yield live


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(settings: Settings) -> Any:
    """Run ``limen …`` in process against this test's data directory and database."""
    from limen.cli.main import app as cli_app

    env = {"LIMEN_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["LIMEN_DATABASE_URL"] = settings.database_url

    def run(*args: str, input: str | None = None) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(cli_app, list(args), env=env, input=input, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


@dataclass
class Limen:
    """``limen …`` in one mode, and the live server the remote mode talks to."""

    mode: str
    url: str
    admin_token: str
    env: dict[str, str]

    def __call__(self, *args: str, input: str | None = None, **env: str) -> CliResult:
        from limen.cli.main import app as cli_app

        result = CliRunner().invoke(
            cli_app, list(args), env={**self.env, **env}, input=input, catch_exceptions=False
        )
        return CliResult(result.exit_code, result.stdout, result.stderr)

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, (args, result.stderr)
        return json.loads(result.stdout)


# The CLI's two modes, and the backends each runs on. On the server host the CLI works on
# the database itself, so it runs on both. Remotely it only talks HTTP to a server, and
# what that server does on PostgreSQL is what the host mode does there (the same domain
# code, with a live server beside it too): SQLite is enough to show the remote path.
CLI_MODES = (("local", "sqlite"), ("local", "postgres"), ("remote", "sqlite"))


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test of ``limen`` runs in each of :data:`CLI_MODES` (a parametrisation of its own,
    so that the ``backend`` fixture's does not multiply it), or in both modes on the
    backends it names itself."""
    if "limen" not in metafunc.fixturenames:
        return
    if "backend" in _parametrized_names(metafunc.definition):
        mark = pytest.mark.parametrize("limen", ["local", "remote"], indirect=True)
    else:
        ids = [f"{mode}-{backend}" for mode, backend in CLI_MODES]
        mark = pytest.mark.parametrize(("limen", "backend"), CLI_MODES, indirect=True, ids=ids)
    metafunc.definition.add_marker(mark)


def _parametrized_names(definition: pytest.Function) -> set[str]:
    """The names a test parametrises itself (``@pytest.mark.parametrize``)."""
    names: set[str] = set()
    for mark in definition.iter_markers("parametrize"):
        given = mark.args[0] if mark.args else mark.kwargs["argnames"]
        if isinstance(given, str):
            given = given.split(",")
        names.update(name.strip() for name in given)
    return names


@pytest.fixture
def limen(
    request: pytest.FixtureRequest, settings: Any, installed: Any, live_server: Any, tmp_path: Path
) -> Limen:
    """``limen …`` in each of :data:`CLI_MODES`: on the server host, or remotely through
    LIMEN_URL/LIMEN_TOKEN against a live server (whose data the remote CLI cannot see
    otherwise)."""
    return cli_in(request.param, settings, installed, live_server, tmp_path)


def cli_in(mode: str, settings: Any, installed: Any, live_server: Any, tmp_path: Path) -> Limen:
    if mode == "local":
        env = {"LIMEN_DATA_DIR": str(settings.data_dir)}
        if settings.database_url:
            env["LIMEN_DATABASE_URL"] = settings.database_url
    else:
        elsewhere = tmp_path / "not-the-server"
        elsewhere.mkdir()
        env = {
            "LIMEN_DATA_DIR": str(elsewhere),
            "LIMEN_URL": live_server.url,
            "LIMEN_TOKEN": installed.admin_token,
        }
    return Limen(mode, live_server.url, installed.admin_token, env)
