"""Helpers for audit tests: keys of this installation, appending events, raw tampering."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from limen.audit import Actor, AuditKeys, link_pending, record
from limen.config import Settings
from limen.installation import InitResult
from limen.store import Database


@pytest.fixture
def keys(settings: Settings, installed: InitResult) -> AuditKeys:
    return AuditKeys.from_key_file(settings.resolved_key_file)


def append(db: Database, count: int, *, action: str = "test.append", **fields: Any) -> list[str]:
    """Append ``count`` events in one transaction; return their ids."""
    actor = Actor(kind="service", name="writer", identity_id=None)
    with db.unit_of_work() as uow:
        events = [
            record(uow.session, actor, action, resource_id=str(n), context={"n": n}, **fields)
            for n in range(count)
        ]
        uow.flush()
        return [e.id for e in events]


def ids_by_position(db: Database) -> dict[int, str]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT chain_pos, id FROM events WHERE chain_pos IS NOT NULL")
        ).all()
    return {int(p): i for p, i in rows}


def tamper(db: Database, *statements: tuple[str, dict[str, Any]]) -> None:
    """Change the database behind Limen's back, as an attacker with SQL access would."""
    with db.engine.begin() as conn:
        for sql, params in statements:
            conn.execute(sa.text(sql), params)


def linked(db: Database, keys: AuditKeys, count: int) -> dict[int, str]:
    append(db, count)
    link_pending(db, keys.chain)
    return ids_by_position(db)
