"""Storage: SQLAlchemy models, the database handle and Alembic migrations."""

from __future__ import annotations

import typing

from limen._lazy import door as _door

if typing.TYPE_CHECKING:
    from limen.store.cursor import InvalidCursor, decode_cursor, encode_cursor
    from limen.store.db import Database, StaleConnection, UnitOfWork
    from limen.store.dialect import Dialect, dialect_for_url, dialect_named, dialect_of
    from limen.store.embedded import EmbeddedDatabase
    from limen.store.lookup import AsyncReader, Lookup, Reader, driver_cursor

_LAZY: typing.Final = {
    "EmbeddedDatabase": "limen.store.embedded",
    "InvalidCursor": "limen.store.cursor",
    "decode_cursor": "limen.store.cursor",
    "encode_cursor": "limen.store.cursor",
    "Database": "limen.store.db",
    "StaleConnection": "limen.store.db",
    "UnitOfWork": "limen.store.db",
    "Dialect": "limen.store.dialect",
    "dialect_for_url": "limen.store.dialect",
    "dialect_named": "limen.store.dialect",
    "dialect_of": "limen.store.dialect",
    "AsyncReader": "limen.store.lookup",
    "Lookup": "limen.store.lookup",
    "Reader": "limen.store.lookup",
    "driver_cursor": "limen.store.lookup",
}


__getattr__ = _door(__name__, _LAZY, globals())


__all__ = [
    "AsyncReader",
    "Database",
    "Dialect",
    "EmbeddedDatabase",
    "InvalidCursor",
    "Lookup",
    "Reader",
    "StaleConnection",
    "UnitOfWork",
    "decode_cursor",
    "dialect_for_url",
    "dialect_named",
    "dialect_of",
    "driver_cursor",
    "encode_cursor",
]
