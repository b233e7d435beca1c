"""Storage: SQLAlchemy models, the database handle and Alembic migrations."""

from limen.store.db import Database, StaleConnection, UnitOfWork
from limen.store.lookup import AsyncReader, Lookup, Reader

__all__ = ["AsyncReader", "Database", "Lookup", "Reader", "StaleConnection", "UnitOfWork"]
