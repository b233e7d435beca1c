"""Storage: SQLAlchemy models, the database handle and Alembic migrations."""

from limen.store.db import Database, UnitOfWork
from limen.store.lookup import AsyncReader, Lookup, Reader

__all__ = ["AsyncReader", "Database", "Lookup", "Reader", "UnitOfWork"]
