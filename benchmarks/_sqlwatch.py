"""Which SQL statements a request runs, how long each took, and their plans.

Counted in the process that serves the request (the app run in-process on the same data),
by SQLAlchemy's cursor events, so a count is a property of the code and the schema, not of
the machine's load: what ``benchmarks/console.py --sql`` prints beside each page's times.
Statements of Limen's own background threads (``limen-*``: the chainer, the detector, the
change feed) are left out; raw driver statements (event appends) are not seen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa


@dataclass
class Statement:
    sql: str
    parameters: Any
    ms: float
    executemany: bool


@dataclass
class Watch:
    statements: list[Statement] = field(default_factory=list)

    @property
    def ms(self) -> float:
        return sum(s.ms for s in self.statements)

    def distinct(self) -> list[Statement]:
        """Each statement's SQL once (its slowest run), slowest first."""
        slowest: dict[str, Statement] = {}
        for statement in self.statements:
            if statement.sql not in slowest or statement.ms > slowest[statement.sql].ms:
                slowest[statement.sql] = statement
        return sorted(slowest.values(), key=lambda s: s.ms, reverse=True)


@contextmanager
def watching() -> Iterator[Watch]:
    """Every statement any engine runs meanwhile, outside Limen's background threads."""
    watch = Watch()
    started: dict[int, float] = {}

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool):
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool):
        begun = started.pop(id(cursor), None)
        if begun is None or threading.current_thread().name.startswith("limen-"):
            return
        ms = (time.perf_counter() - begun) * 1000
        watch.statements.append(Statement(statement, parameters, ms, many))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", before)
    sa.event.listen(sa.engine.Engine, "after_cursor_execute", after)
    try:
        yield watch
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", before)
        sa.event.remove(sa.engine.Engine, "after_cursor_execute", after)


def plan(engine: sa.Engine, statement: Statement) -> str:
    """The database's plan for a read statement: ``EXPLAIN QUERY PLAN`` on SQLite,
    ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL (it runs the statement: reads only)."""
    if statement.executemany or not statement.sql.lstrip().upper().startswith(("SELECT", "WITH")):
        return "(not a read)"
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if postgres else "EXPLAIN QUERY PLAN "
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(prefix + statement.sql, statement.parameters)
        rows = cursor.fetchall()
        cursor.close()
    finally:
        raw.close()
    if postgres:
        return "\n".join(str(r[0]) for r in rows)
    return "\n".join(f"{'  ' * _depth(r, rows)}{r[-1]}" for r in rows)


def _depth(row: Any, rows: list[Any]) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent:
        depth, parent = depth + 1, parents.get(parent, 0)
    return depth
