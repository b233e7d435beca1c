"""The embedded database (SQLite in the data directory) over the standard library's
driver, for a command that must answer before SQLAlchemy would have finished importing.

``limen read`` is such a command: it looks up one item and appends one event. This is its
way to the database; everything else goes through :class:`~limen.store.Database`. The
connection is configured as the pool configures its SQLite connections (WAL, the same
busy timeout, foreign keys), and a write starts with ``BEGIN IMMEDIATE`` as a writing
unit of work does. :meth:`EmbeddedDatabase.open` answers ``None`` for a database it
should not touch (none there yet, or a schema other than this code's), so that the caller
takes the general path, which migrates or says what is wrong.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from limen.errors import Unavailable
from limen.store.dialect import SQLITE, Dialect

__all__ = ["MIGRATIONS", "EmbeddedDatabase", "newest_migration"]

MIGRATIONS: Final = Path(__file__).parent / "migrations"
_BUSY_TIMEOUT_SECONDS: Final = 30.0


def newest_migration() -> str:
    """This code's head revision: migrations form one line and their files are named
    after their revisions, numbered (``tests/test_architecture.py`` holds both)."""
    return max(path.stem for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


class EmbeddedDatabase:
    """One connection to the embedded database file, outside any pool."""

    dialect: Final[Dialect] = SQLITE

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @classmethod
    def open(cls, path: Path) -> EmbeddedDatabase | None:
        """The database in ``path``, if it exists and its schema is this code's newest."""
        try:
            # mode=rw: a missing file stays missing (the general path says to run init).
            connection = sqlite3.connect(
                f"file:{quote(str(path))}?mode=rw",
                uri=True,
                timeout=_BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # transactions begin when this module says so
            )
        except sqlite3.Error:
            return None
        database = cls(connection)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_SECONDS * 1000)}")
            applied = [r[0] for r in connection.execute("SELECT version_num FROM alembic_version")]
        except sqlite3.Error:
            database.close()
            return None
        if applied != [newest_migration()]:
            database.close()
            return None
        return database

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows ``sql`` selects (``?`` markers)."""
        with _translated():
            return self._connection.execute(sql, parameters).fetchall()

    def first(self, sql: str, parameters: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with _translated():
            return self._connection.execute(sql, parameters).fetchone()

    @contextlib.contextmanager
    def writing(self) -> Iterator[EmbeddedDatabase]:
        """A writing transaction (``BEGIN IMMEDIATE``): committed on a clean exit, rolled
        back on any exception."""
        with _translated():
            self._connection.execute(self.dialect.begin_write)
        try:
            yield self
            with _translated():
                self._connection.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # the error that matters is the first
                self._connection.execute("ROLLBACK")
            raise

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        with _translated():
            self._connection.execute(sql, parameters)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> EmbeddedDatabase:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """A driver error (locked past the busy timeout, a disk error, a schema this code
    does not expect) becomes :class:`~limen.errors.Unavailable`."""
    try:
        yield
    except sqlite3.Error as exc:
        first = (str(exc) or type(exc).__name__).splitlines()[0]
        raise Unavailable(f"cannot use the database: {first}") from None
