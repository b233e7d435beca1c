"""Items whose secret must be rotated because someone who could read it left.

Offboarding (``lifecycle.provisioning``) flags the items a leaver could read; the flag
sits on the item (``rotation_needed_since`` and ``rotation_needed_reason``), so the
item's metadata (``limen item get``, the Connect API's ``rotationNeeded``), the vault
report and the access review show it. Any change of the item's secret values clears it
(``VaultCore`` when it stores a new version).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.store.models import utcnow
from limen.store.models.vault import VaultItem

__all__ = ["flag_for_rotation"]


def flag_for_rotation(
    session: Session, item_ids: Collection[str], *, reason: str, now: datetime | None = None
) -> None:
    """Flag the live items among ``item_ids`` as needing rotation, in the caller's unit
    of work. An item flagged already keeps the time it was first flagged and takes the
    latest reason. ``reason`` names people, never a secret."""
    if not item_ids:
        return
    moment = now or utcnow()
    session.execute(
        sa.update(VaultItem)
        .where(VaultItem.id.in_(list(item_ids)), VaultItem.deleted_at.is_(None))
        .values(
            rotation_needed_since=sa.func.coalesce(VaultItem.rotation_needed_since, moment),
            rotation_needed_reason=reason[:300],
        )
        .execution_options(synchronize_session=False)
    )
