"""The one place Limen reads SQLAlchemy's compiler internals, for :mod:`limen.store.lookup`.

A lookup runs a compiled SELECT on the bare DB-API cursor, so it needs what SQLAlchemy
keeps to itself: the order of the positional bind parameters (``SQLCompiler.positiontup``,
for qmark drivers such as sqlite3), the bind parameter objects (``binds``) with their
values, and whether any name had to be escaped (``escaped_bind_names``). :func:`driver_sql`
reads them once per statement and dialect and hands back plain values.
``tests/test_library_fences.py`` fails if they change shape, and ``pyproject.toml`` bounds
SQLAlchemy to the versions that test has passed on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["COMPILER_ATTRIBUTES", "DriverSQL", "driver_sql"]

COMPILER_ATTRIBUTES = ("string", "binds", "positional", "positiontup", "escaped_bind_names")
"""Every attribute of a compiled statement read here."""


@dataclass(frozen=True, slots=True)
class DriverSQL:
    sql: str
    positional: tuple[str, ...] | None
    """Bind names in the order the driver takes them (qmark style), or ``None`` for a
    driver that takes them by name."""
    fixed: dict[str, Any]
    """Values bound in the statement itself (a LIMIT)."""
    processors: dict[str, Callable[[Any], Any]]
    """Each bind's conversion to what the driver takes, where its type has one."""


def driver_sql(statement: sa.Select[Any] | sa.CompoundSelect, dialect: Dialect) -> DriverSQL:
    """``statement`` compiled for ``dialect``'s driver, with what binding it needs."""
    compiled = statement.compile(dialect=dialect)
    if "POSTCOMPILE" in compiled.string or compiled.escaped_bind_names:
        raise ValueError("a lookup cannot use expanding or escaped bind parameters")
    binds = compiled.binds
    order = tuple(compiled.positiontup or ())
    fixed = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
    processors = {}
    for name, bind in binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    return DriverSQL(
        sql=compiled.string,
        positional=order if compiled.positional else None,
        fixed=fixed,
        processors=processors,
    )
