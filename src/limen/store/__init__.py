"""Storage: SQLAlchemy models, the database handle and Alembic migrations."""

from limen.store.db import Database, StaleConnection, UnitOfWork
from limen.store.dialect import Dialect, dialect_for_url, dialect_named, dialect_of
from limen.store.lookup import AsyncReader, Lookup, Reader

__all__ = [
    "AsyncReader",
    "Database",
    "Dialect",
    "Lookup",
    "Reader",
    "StaleConnection",
    "UnitOfWork",
    "dialect_for_url",
    "dialect_named",
    "dialect_of",
]
