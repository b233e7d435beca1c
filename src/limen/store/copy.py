"""Copy an installation's database to another database, on either backend.

The copy reads the source in one snapshot (one read transaction) and writes every table,
parents before children, into a target migrated to the same schema, which must hold no
Limen data yet. Values travel through the column types, so times, binary and numbers land
as the target stores them; JSON columns travel as their stored text, unchanged, because
the audit chain's links cover that text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from limen.errors import Conflict, InvalidInput, Unavailable
from limen.store.db import Database
from limen.store.models import Base

__all__ = ["CopyReport", "copy_database"]

TRANSIENT = frozenset({"store_notices"})
"""Tables that only carry change notices between running processes: not copied."""

_BATCH = 2000

Progress = Callable[[str, int, int], None]
"""Called with (table, rows copied so far, rows in the table)."""


@dataclass(frozen=True, slots=True)
class CopyReport:
    rows: dict[str, int]
    """Rows copied, by table."""

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def copy_database(
    source: Database, target: Database, *, progress: Progress | None = None
) -> CopyReport:
    """Copy every table of ``source`` into ``target`` (migrated here; it must be empty)."""
    if _same(source, target):
        raise InvalidInput("the target is the database Limen is using; copy to another one")
    try:
        target.migrate()
    except Unavailable as exc:
        raise Unavailable(f"cannot prepare the target database: {exc}") from exc
    tables = [t for t in Base.metadata.sorted_tables if t.name not in TRANSIENT]
    with target.engine.connect() as connection:
        for table in tables:
            if connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                raise Conflict(
                    f"the target database already holds Limen data (table {table.name}); "
                    "copy into an empty database"
                )
    copied: dict[str, int] = {}
    reading = source.engine.connect()
    try:
        if source.backend == "postgresql":
            reading = reading.execution_options(isolation_level="REPEATABLE READ")
        with reading.begin(), target.engine.begin() as writing:
            for table in tables:
                copied[table.name] = _copy_table(reading, writing, table, target.backend, progress)
            if target.backend == "postgresql":
                _advance_sequences(writing, tables)
    except DBAPIError as exc:
        raise Unavailable(
            f"the copy failed and wrote no data to the target: {_first_line(exc)}"
        ) from exc
    finally:
        reading.close()
    return CopyReport(copied)


def _same(source: Database, target: Database) -> bool:
    a, b = source.engine.url, target.engine.url
    if source.backend == "sqlite" and target.backend == "sqlite":
        return (
            bool(a.database and b.database)
            and Path(a.database).resolve() == Path(b.database).resolve()
        )
    return a.render_as_string(hide_password=False) == b.render_as_string(hide_password=False)


def _copy_table(
    reading: sa.Connection,
    writing: sa.Connection,
    table: sa.Table,
    target_backend: str,
    progress: Progress | None,
) -> int:
    columns = list(table.c)
    json_columns = {c.name for c in columns if isinstance(c.type, sa.JSON)}
    select = sa.select(
        *(sa.cast(c, sa.Text).label(c.name) if c.name in json_columns else c for c in columns)
    ).order_by(*table.primary_key.columns)
    values = {}
    for column in columns:
        if column.name in json_columns:
            text = sa.bindparam(column.name, type_=sa.Text)
            # PostgreSQL takes the stored text as JSON as it is; SQLite stores text anyway.
            values[column.name] = (
                sa.cast(text, column.type) if target_backend == "postgresql" else text
            )
        else:
            values[column.name] = sa.bindparam(column.name, type_=column.type)
    insert = table.insert().values(values)
    total = reading.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    done = 0
    if progress:
        progress(table.name, 0, total)
    # A row may point at a row of its own table that sorts after it (an identity's owner):
    # such references are written once every row is in.
    own = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
    keys = [c.name for c in table.primary_key.columns]
    later: list[dict[str, object]] = []
    result = reading.execution_options(yield_per=_BATCH).execute(select)
    for rows in result.partitions():
        batch = [row._asdict() for row in rows]
        for record in batch:
            pointers = {name: record[name] for name in own if record[name] is not None}
            if pointers:
                later.append({**{k: record[k] for k in keys}, **pointers})
                record.update(dict.fromkeys(pointers))
        writing.execute(insert, batch)
        done += len(rows)
        if progress:
            progress(table.name, done, total)
    for name in own:
        update = (
            table.update()
            .where(*(table.c[k] == sa.bindparam(f"key_{k}") for k in keys))
            .values({name: sa.bindparam(f"to_{name}")})
        )
        pointing = [
            {**{f"key_{k}": row[k] for k in keys}, f"to_{name}": row[name]}
            for row in later
            if name in row
        ]
        if pointing:
            writing.execute(update, pointing)
    return done


def _advance_sequences(writing: sa.Connection, tables: list[sa.Table]) -> None:
    """Rows arrived with their ids: move each identity sequence past the highest one."""
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        writing.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "  # noqa: S608
                f"coalesce(max({column.name}), 0) + 1, false) FROM {table.name}"
            ),
            {"table": table.name, "column": column.name},
        )


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)) or type(exc).__name__
    return text.strip().splitlines()[0]
