"""Storage: SQLAlchemy models, the database handle and Alembic migrations."""

from limen.store.db import Database, UnitOfWork

__all__ = ["Database", "UnitOfWork"]
