"""Lookups: the few SELECTs that run on nearly every request, straight on the driver.

SQLAlchemy Core builds an execution context, fires events, reads result metadata and
wraps the connection on each execution, which costs many times what SQLite needs to
answer an indexed lookup: on a secret read or a token check, a quarter of the request
(``benchmarks/vault_read.py``, ``benchmarks/tokens.py``). A :class:`Lookup` keeps what
SQLAlchemy gives a query, the SQL for the dialect (compiled once), the bound values and
the column types' conversions, and skips the per-execution machinery: rows come from the
DB-API cursor of a pooled connection (:meth:`limen.store.Database.reading`) or, on
PostgreSQL from a coroutine, of an asyncio connection
(:meth:`limen.store.Database.reading_async`).

The same lookup runs through an ORM session or a Core connection too, so a function
built on one works inside a unit of work as well. What compiling for the bare driver
reads of SQLAlchemy's internals is in :mod:`limen.store._sqlalchemy`, and only there.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from limen.store._sqlalchemy import driver_sql

__all__ = ["AsyncReader", "Lookup", "Reader", "driver_cursor"]


@contextlib.contextmanager
def driver_cursor(connection: sa.Connection) -> Iterator[Any]:
    """The DB-API cursor of ``connection``, inside its transaction, closed afterwards.

    A driver error raised on it leaves as SQLAlchemy's own (``sa.exc.OperationalError`` …),
    and a lost connection is invalidated first: SQLAlchemy never saw the statement, so
    without this it would keep a dead connection, try to roll back on it (which raises
    again, past a unit of work's handling: a 500 instead of a 503) and hand it back to the
    pool. Invalidated, the unit of work rolls back without the wire and says the request
    may be retried on a fresh connection (:class:`limen.store.StaleConnection`).
    """
    dbapi_connection = connection.connection.dbapi_connection
    cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
    dialect = connection.dialect
    try:
        yield cursor
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, dbapi_connection, cursor)
        if lost:
            connection.invalidate(exc)
            # As Core does on a disconnect it sees: the other pooled connections are
            # presumed dead too (a killed server, a dropped network), so a retry gets a
            # fresh one rather than the next stale one.
            connection.engine.dispose()
        base = dialect.loaded_dbapi.Error
        raise sa.exc.DBAPIError.instance(
            None, None, exc, base, connection_invalidated=lost, dialect=dialect
        ) from exc
    finally:
        with contextlib.suppress(dialect.loaded_dbapi.Error):
            cursor.close()


class Reader:
    """A driver connection outside any transaction (see ``Database.reading``).

    Each lookup sees the latest committed data on its own.
    """

    __slots__ = ("_cursor", "dialect")

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        self._cursor = dbapi_connection.cursor()
        self.dialect = dialect

    def _rows(self, sql: str, parameters: Sequence[Any] | dict[str, Any]) -> list[Any]:
        self._cursor.execute(sql, parameters)
        return self._cursor.fetchall()

    def close(self) -> None:
        self._cursor.close()


class AsyncReader:
    """A pooled asyncio driver connection outside any transaction (PostgreSQL; see
    ``Database.reading_async``): a lookup waits on the network without a thread."""

    __slots__ = ("_connection", "dialect")

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self._connection = connection
        self.dialect = dialect

    async def _rows(self, sql: str, parameters: Sequence[Any] | dict[str, Any]) -> list[Any]:
        cursor = await self._connection.execute(sql, parameters)
        return await cursor.fetchall()


Source = Reader | Session | sa.Connection


class Lookup:
    """A fixed SELECT with named bind parameters, run as fast as its driver allows.

    Rows are named tuples whose fields are the statement's column keys, converted as
    Core would convert them (times, JSON, enums, booleans).
    """

    def __init__(self, statement: sa.Select[Any] | sa.CompoundSelect) -> None:
        self.statement = statement
        keys = list(statement.selected_columns.keys())
        if len(set(keys)) != len(keys) or not all(k.isidentifier() for k in keys):
            raise ValueError(f"a lookup's columns need distinct plain names, not {keys}")
        self._row = collections.namedtuple("Row", keys)  # type: ignore[misc]
        self._compiled: dict[str, _Compiled] = {}

    def all(self, source: Source, **parameters: Any) -> list[Any]:
        if not isinstance(source, Reader):
            return list(source.execute(self.statement, parameters).all())
        compiled = self._compiled_for(source.dialect)
        return self._convert(compiled, source._rows(compiled.sql, compiled.bind(parameters)))

    def first(self, source: Source, **parameters: Any) -> Any | None:
        rows = self.all(source, **parameters)
        return rows[0] if rows else None

    async def all_async(self, source: AsyncReader, **parameters: Any) -> list[Any]:
        """:meth:`all` on an :class:`AsyncReader`."""
        compiled = self._compiled_for(source.dialect)
        raw = await source._rows(compiled.sql, compiled.bind(parameters))
        return self._convert(compiled, raw)

    async def first_async(self, source: AsyncReader, **parameters: Any) -> Any | None:
        rows = await self.all_async(source, **parameters)
        return rows[0] if rows else None

    def _compiled_for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _convert(self, compiled: _Compiled, raw: Sequence[Any]) -> list[Any]:
        convert = compiled.converters
        make = self._row._make
        if not convert:
            return [make(row) for row in raw]
        rows = []
        for values in raw:
            values = list(values)
            for index, process in convert:
                values[index] = process(values[index])
            rows.append(make(values))
        return rows

    def _compile(self, dialect: Dialect) -> _Compiled:
        driver = driver_sql(self.statement, dialect)
        converters = []
        for index, column in enumerate(self.statement.selected_columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                converters.append((index, process))
        return _Compiled(
            sql=driver.sql,
            positional=driver.positional,
            fixed=driver.fixed,
            processors=driver.processors,
            converters=tuple(converters),
        )


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # bind names in order, for qmark-style drivers
    fixed: dict[str, Any]  # values bound in the statement itself (a LIMIT)
    processors: dict[str, Callable[[Any], Any]]
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]

    def bind(self, parameters: dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = {**self.fixed, **parameters}
        for name, process in self.processors.items():
            values[name] = process(values[name])
        if self.positional is None:
            return values
        return [values[name] for name in self.positional]
