"""One event as the ``events`` table stores it: the row :func:`~limen.audit.record`
appends, its seal, and the multi-row INSERT that writes rows in bulk.

Free of SQLAlchemy, so that a command which appends its one event over a bare DB-API
connection (``limen read`` on the embedded database) writes the very row that
:func:`~limen.audit.record` would.
"""

from __future__ import annotations

import enum
import functools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from limen.audit._canon import RECORDED_FIELDS, portable_text, seal

if TYPE_CHECKING:
    from limen.audit.actor import Actor
    from limen.store.dialect import Dialect

__all__ = [
    "ROWS_PER_STATEMENT",
    "Outcome",
    "RecordedEvent",
    "event_row",
    "insert_statements",
    "row_of",
]


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """What :func:`record` appended: the event's id and the facts it recorded."""

    id: str
    occurred_at: datetime
    action: str
    outcome: str


def event_row(
    actor: Actor,
    action: str,
    *,
    resource_type: str | None = None,
    resource_id: str | None = None,
    resource_name: str | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    reason: str | None = None,
    context: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[tuple[Any, ...], RecordedEvent]:
    """The row of one event, in :data:`RECORDED_FIELDS` order, as the driver takes it
    (JSON already text), and what it records."""
    row = row_of(
        actor, action, resource_type, resource_id, resource_name, outcome, reason, context, now
    )
    return row, RecordedEvent(row[0], row[1], action, row[11])


def row_of(
    actor: Actor,
    action: str,
    resource_type: str | None,
    resource_id: str | None,
    resource_name: str | None,
    outcome: Outcome,
    reason: str | None,
    context: dict[str, Any] | None,
    now: datetime | None,
) -> tuple[Any, ...]:
    """:func:`event_row`'s row, its arguments given in order (for :func:`record`, which
    appends one per event: keyword arguments cost more to pass)."""
    delegation = actor.delegation
    # Per-row work in SQLAlchemy (ORM objects, type processing) would cost more than
    # everything else an append does (benchmarks/audit.py).
    return (
        _new_id(),
        now or datetime.now(UTC),
        actor.identity_id,
        actor.kind,
        actor.name,
        _dumps(list(delegation)) if delegation else "[]",
        actor.token_id,
        action,
        resource_type,
        resource_id,
        resource_name,
        str(outcome),
        reason,
        _dumps({"channel": actor.channel, **actor.context, **(context or {})}),
    )


_dumps = json.JSONEncoder().encode  # what json.dumps() does with default arguments
_ALPHABET = b"abcdefghijklmnopqrstuvwxyz234567"
# A random byte's low five bits are uniform: each byte becomes one base32 character.
_BASE32 = bytes(_ALPHABET[n & 31] for n in range(256))
# base32 of 128 bits ends in a character holding 3 bits and two zero bits.
_BASE32_LAST = bytes(_ALPHABET[(n & 7) << 2] for n in range(256))


def _new_id() -> str:
    """An id of the same shape and randomness as :func:`limen.ids.new_id` (128 random bits
    as 26 lowercase base32 characters), a few times faster: ``base64.b32encode`` is
    written in Python."""
    raw = os.urandom(26)
    return (raw[:25].translate(_BASE32) + raw[25:].translate(_BASE32_LAST)).decode("ascii")


# Every field the chain's link covers, in its order (what is recorded is what is linked),
# and the row's seal.
COLUMNS = (*RECORDED_FIELDS, "seal")
# Many rows per statement: one round trip on PostgreSQL, and on SQLite one hand-over of
# the interpreter lock (the driver lets other threads run around each statement step; on
# a busy node each hand-over costs two context switches, per row with executemany).
ROWS_PER_STATEMENT = 64


@functools.cache
def _multi_row_insert(dialect: Dialect, rows: int) -> str:
    mark = dialect.marker
    row = f"({', '.join([mark] * len(COLUMNS))})"
    return f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES " + ", ".join([row] * rows)  # noqa: S608


def _sealed(rows: Sequence[tuple[Any, ...]], key: bytes | None) -> list[tuple[Any, ...]]:
    """The rows with their seal (``None`` without a key: the chainer will refuse them)."""
    sealed = []
    for row in rows:
        text = (row[0], _sqlite_time(row[1]), *row[2:])
        mark = seal(key, portable_text(text)) if key is not None else None
        sealed.append((*row, mark))
    return sealed


def insert_statements(
    dialect: Dialect, rows: Sequence[tuple[Any, ...]], key: bytes | None
) -> Iterator[tuple[str, list[Any]]]:
    """The INSERT statements (up to :data:`ROWS_PER_STATEMENT` rows each) and their
    parameters that write ``rows``, sealed with ``key``."""
    rows = _sealed(rows, key)
    # Raw SQL: each time bound as UTCDateTime would store it.
    rows = [(r[0], dialect.bind_time(r[1]), *r[2:]) for r in rows]
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        yield _multi_row_insert(dialect, len(chunk)), [v for r in chunk for v in r]


def _sqlite_time(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ", "microseconds")[:26]  # without the "+00:00"
