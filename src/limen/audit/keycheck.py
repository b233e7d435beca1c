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

from limen.audit._keys import AuditKeys
from limen.audit.chain import GENESIS, compute_link, head, linked_form_sql
from limen.audit.checkpoints import SignedCheckpoint
from limen.audit.errors import AuditKeyMismatch
from limen.store import Database
from limen.store.models import AuditCheckpoint

__all__ = ["check_key"]


def check_key(db: Database, keys: AuditKeys, *, key_file: Path | None = None) -> None:
    """Raise :class:`AuditKeyMismatch` unless ``keys`` are the ones the trail was made with."""
    if _matches(db, keys):
        return
    which = f"the key file {key_file}" if key_file else "the configured key file"
    raise AuditKeyMismatch(
        f"{which} is not this installation's key: the audit trail was signed with another "
        "one. Restore the original key file from your backup (see 'Back up and restore' "
        "in the README); nothing was changed"
    )


def _matches(db: Database, keys: AuditKeys) -> bool:
    with db.unit_of_work(readonly=True) as uow:
        session = uow.session
        newest = session.scalar(
            sa.select(AuditCheckpoint).order_by(AuditCheckpoint.position.desc()).limit(1)
        )
        if newest is not None:
            # A checkpoint signed with another key also means someone forged one; either
            # way nothing may be linked or signed with this key until a person looks.
            return SignedCheckpoint.from_row(newest).is_signed_by(keys.public_key)
        connection = session.connection()
        form = linked_form_sql(db.dialect, head(connection).portable_from)
        last = connection.execute(
            sa.text(
                f"SELECT chain_pos, chain_prev_id, link, {form} "  # noqa: S608
                "FROM events WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1"
            )
        ).first()
        if last is None:
            return True
        position, prev_id, link, canon = int(last[0]), last[1], bytes(last[2]), last[3]
        previous = GENESIS
        if position > 1:
            before = connection.execute(
                sa.text("SELECT link FROM events WHERE chain_pos = :p"), {"p": position - 1}
            ).first()
            if before is None:
                return True  # pruned, and no checkpoint left to compare with
            previous = bytes(before[0])
        return compute_link(keys.chain, previous, position, prev_id, canon) == link
