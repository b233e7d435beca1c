"""Is this key file the one the audit trail was written with?

The chain key and the checkpoint key are derived from the installation's root key file.
A different key file (a new one written over a lost original, one from another
installation) would go on linking and signing without complaint, and every verification
afterwards would report the trail as forged. So before anything links or signs, the key
is checked against what the trail already holds: the newest signed checkpoint, or, if
none was signed yet, the newest link. A trail with nothing linked holds nothing that
depends on the key, and any key will do.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from limen.audit._keymatch import key_matches, mismatch
from limen.audit._keys import AuditKeys
from limen.audit._signed import SignedCheckpoint
from limen.audit.chain import head, linked_form_sql
from limen.store import Database
from limen.store.models import AuditCheckpoint

__all__ = ["check_key"]


def check_key(db: Database, keys: AuditKeys, *, key_file: Path | None = None) -> None:
    """Raise :class:`AuditKeyMismatch` unless ``keys`` are the ones the trail was made with."""
    if not _matches(db, keys):
        raise mismatch(key_file)


def _matches(db: Database, keys: AuditKeys) -> bool:
    with db.unit_of_work(readonly=True) as uow:
        session = uow.session
        newest = session.scalar(
            sa.select(AuditCheckpoint).order_by(AuditCheckpoint.position.desc()).limit(1)
        )
        connection = session.connection()
        last = None
        if newest is None:
            form = linked_form_sql(db.dialect, head(connection).portable_from)
            row = connection.execute(
                sa.text(
                    f"SELECT chain_pos, chain_prev_id, link, {form} "  # noqa: S608
                    "FROM events WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1"
                )
            ).first()
            if row is not None:
                last = (int(row[0]), row[1], bytes(row[2]), row[3])

        def link_at(position: int) -> bytes | None:
            found = connection.execute(
                sa.text("SELECT link FROM events WHERE chain_pos = :p"), {"p": position}
            ).first()
            return None if found is None else bytes(found[0])

        return key_matches(
            keys,
            newest=None if newest is None else SignedCheckpoint.from_row(newest),
            last=last,
            link_at=link_at,
        )
