"""Alembic environment: runs on the connection Limen hands it (see ``Database.migrate``)."""

from __future__ import annotations

from alembic import context

from limen.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - Limen always passes a connection
    raise RuntimeError("run migrations through `limen db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
