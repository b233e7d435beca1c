"""Whether a key is the one the audit trail was written with, decided from what the trail
holds (see :mod:`limen.audit.keycheck`, which reads it through SQLAlchemy; ``limen read``
reads the same rows over a bare DB-API connection and decides here too)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from limen.audit._canon import GENESIS, compute_link
from limen.audit.errors import AuditKeyMismatch

if TYPE_CHECKING:
    from limen.audit._keys import AuditKeys
    from limen.audit._signed import SignedCheckpoint

__all__ = ["LastLink", "key_matches", "mismatch"]

LastLink = tuple[int, str | None, bytes, str]
"""The newest linked event: its position, the id before it, its link and the canonical
form the link covers."""


def key_matches(
    keys: AuditKeys,
    *,
    newest: SignedCheckpoint | None,
    last: LastLink | None,
    link_at: Callable[[int], bytes | None],
) -> bool:
    """True unless the trail shows another key: the newest signed checkpoint, or, if none
    was signed yet, the newest link (``link_at(position)`` gives an earlier link, or
    ``None`` if it was pruned). A trail with nothing linked holds nothing that depends on
    the key, and any key will do."""
    if newest is not None:
        # A checkpoint signed with another key also means someone forged one; either
        # way nothing may be linked or signed with this key until a person looks.
        return newest.is_signed_by(keys.public_key)
    if last is None:
        return True
    position, prev_id, link, canon = last
    previous = GENESIS
    if position > 1:
        before = link_at(position - 1)
        if before is None:
            return True  # pruned, and no checkpoint left to compare with
        previous = before
    return compute_link(keys.chain, previous, position, prev_id, canon) == link


def mismatch(key_file: Path | None) -> AuditKeyMismatch:
    """The error for a key file that is not the installation's."""
    which = f"the key file {key_file}" if key_file else "the configured key file"
    return AuditKeyMismatch(
        f"{which} is not this installation's key: the audit trail was signed with another "
        "one. Restore the original key file from your backup (see 'Back up and restore' "
        "in the README); nothing was changed"
    )
