"""Storage: SQLAlchemy models, the database handle and Alembic migrations."""

from __future__ import annotations

import typing

from limen._lazy import door as _door

if typing.TYPE_CHECKING:
    from limen.store.db import Database, StaleConnection, UnitOfWork
    from limen.store.dialect import Dialect, dialect_for_url, dialect_named, dialect_of
    from limen.store.embedded import EmbeddedDatabase
    from limen.store.lookup import AsyncReader, Lookup, Reader

_LAZY: typing.Final = {
    "EmbeddedDatabase": "limen.store.embedded",
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
}


__getattr__ = _door(__name__, _LAZY, globals())


__all__ = [
    "AsyncReader",
    "Database",
    "Dialect",
    "EmbeddedDatabase",
    "Lookup",
    "Reader",
    "StaleConnection",
    "UnitOfWork",
    "dialect_for_url",
    "dialect_named",
    "dialect_of",
]
