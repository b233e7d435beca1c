"""What the database in use can do, and the few SQL fragments that differ between them.

Code outside ``store/`` never asks which database it runs on: it asks a :class:`Dialect`
(``Database.dialect``, or :func:`dialect_of` for a session or connection) for a
capability (``serialises_writes``, ``async_driver``, ``has_arrays``) or for a fragment of
SQL (a UTC time as text, a JSON array as text, a row lock). This module is the one place
those choices between SQLite and PostgreSQL are written down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

__all__ = ["POSTGRESQL", "SQLITE", "Dialect", "dialect_for_url", "dialect_named", "dialect_of"]


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    """``sqlite`` or ``postgresql``: for people (status, health, banners) and nothing else."""
    serialises_writes: bool
    """Writers take turns on one lock (SQLite): a process does better to queue its own
    writers (one writer thread, a lock) than to let them wait in the database. Otherwise
    (PostgreSQL) concurrent transactions commit in parallel."""
    async_driver: bool
    """Statements can be awaited on an event loop (PostgreSQL's psycopg async pool);
    otherwise awaited work goes through the executor."""
    has_arrays: bool
    """Array parameters and ``unnest`` are available (one UPDATE for many rows)."""
    marker: str
    """The driver's parameter placeholder in raw DB-API SQL."""
    begin_write: str
    """What starts a writing transaction on a raw DB-API cursor in autocommit mode."""
    driver_module: str
    """The bare DB-API module a child process opens this database with."""
    stdlib_driver: bool
    """That module is in the standard library (a child process starts without site-packages)."""
    in_a_file: bool
    """The database is a local file (created with its data directory on first use)."""

    def utc_text(self, column: str) -> str:
        """SQL for a UTC time column as text, ``YYYY-MM-DD HH:MM:SS.ffffff``."""
        if self.name == "postgresql":
            return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        return f"CAST({column} AS TEXT)"  # stored as that text already (UTCDateTime)

    def as_text(self, column: str) -> str:
        """SQL for a text or JSON column's value as text."""
        if self.name == "postgresql":
            return f"CAST({column} AS TEXT)"
        return column  # SQLite stores these values as their text (a CAST costs, see below)

    def length_prefixed_text(self, texts: list[str]) -> str:
        """SQL rendering the text expressions ``texts`` as one text: each as
        ``<length in characters>:<text>``, or ``-`` for a NULL, in turn, with nothing
        between them. The result is the same on every backend."""
        if self.name == "postgresql":
            return " || ".join(
                f"CASE WHEN {t} IS NULL THEN '-' ELSE CAST(length({t}) AS TEXT) || ':' || {t} END"
                for t in texts
            )
        # printf assembles the row once: a CAST and three concatenations per column made
        # rendering the chain's canonical form most of `limen audit verify`'s time
        # (benchmarks/audit.py).
        arguments = [
            f"CASE WHEN {t} IS NULL THEN '-' ELSE length({t}) END, "
            f"CASE WHEN {t} IS NULL THEN '' ELSE ':' END, {t}"
            for t in texts
        ]
        return f"printf('{'%s' * 3 * len(texts)}', {', '.join(arguments)})"

    def json_array_text(self, expressions: list[str]) -> str:
        """SQL rendering ``expressions`` as the text of a JSON array, in the database's own
        JSON rendering (which differs between databases)."""
        if self.name == "postgresql":
            return f"json_build_array({', '.join(expressions)})::text"
        return f"json_array({', '.join(expressions)})"

    def json_number(self, column: str, key: str) -> str:
        """SQL for the number under ``key`` of the JSON object in ``column``; NULL where
        the key is missing or holds anything but a number (never a cast error)."""
        if not key.isidentifier():
            raise ValueError(f"not a plain JSON key: {key!r}")
        if self.name == "postgresql":
            return (
                f"(CASE WHEN json_typeof(CAST({column} AS JSON) -> '{key}') = 'number' "
                f"THEN CAST(CAST({column} AS JSON) ->> '{key}' AS DOUBLE PRECISION) END)"
            )
        return (
            f"(CASE WHEN json_type({column}, '$.{key}') IN ('integer', 'real') "
            f"THEN json_extract({column}, '$.{key}') END)"
        )

    def row_lock(self, *, wait: bool = True) -> str:
        """The clause that locks the selected rows until commit (empty where the writing
        transaction itself is the lock: SQLite's ``BEGIN IMMEDIATE``). Without ``wait``,
        rows another transaction holds are skipped."""
        if self.name == "postgresql":
            return " FOR UPDATE" if wait else " FOR UPDATE SKIP LOCKED"
        return ""

    def bind_time(self, moment: datetime) -> Any:
        """``moment`` as raw SQL must bind it to store what :class:`UTCDateTime` stores."""
        if self.name == "sqlite":
            if moment.tzinfo is not UTC:
                moment = moment.astimezone(UTC)
            return moment.isoformat(" ", "microseconds")[:26]  # naive UTC text
        return moment

    def streaming_cursor(self, raw: Any, name: str, *, rows: int) -> Any:
        """A DB-API cursor over ``raw`` that fetches a large result ``rows`` at a time
        (a server-side cursor where there is one)."""
        if self.name == "postgresql":
            cursor = raw.cursor(name=name)
            cursor.itersize = rows
            return cursor
        return raw.cursor()


SQLITE = Dialect(
    name="sqlite",
    serialises_writes=True,
    async_driver=False,
    has_arrays=False,
    marker="?",
    begin_write="BEGIN IMMEDIATE",
    driver_module="sqlite3",
    stdlib_driver=True,
    in_a_file=True,
)
POSTGRESQL = Dialect(
    name="postgresql",
    serialises_writes=False,
    async_driver=True,
    has_arrays=True,
    marker="%s",
    begin_write="BEGIN",
    driver_module="psycopg",
    stdlib_driver=False,
    in_a_file=False,
)


def dialect_named(name: str) -> Dialect | None:
    """The dialect SQLAlchemy calls ``name`` (a URL's backend name), if Limen supports it."""
    return {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(name)


def dialect_for_url(url: str) -> Dialect:
    """The dialect of a database URL (anything but PostgreSQL is SQLite)."""
    return POSTGRESQL if url.startswith("postgresql") else SQLITE


def dialect_of(bound: Session | sa.Connection) -> Dialect:
    """The dialect of the database a session or connection is bound to."""
    # (No isinstance: this module is imported by commands that never load SQLAlchemy.)
    get_bind = getattr(bound, "get_bind", None)
    bind = get_bind() if get_bind is not None else bound
    return POSTGRESQL if bind.dialect.name == "postgresql" else SQLITE
