"""Storage: SQLAlchemy models, the database handle and Alembic migrations."""

from limen.store.db import Database, UnitOfWork
from limen.store.lookup import Lookup, Reader

__all__ = ["Database", "Lookup", "Reader", "UnitOfWork"]
