"""The directory partners see: active and suspended identities of one kind, a page at a time.

Deprovisioned identities are not listed; for partners they no longer exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.identity import oldest_first
from limen.store.models import Identity, IdentityKind, IdentityStatus

__all__ = ["DirectoryPage", "list_directory"]


@dataclass(frozen=True, slots=True)
class DirectoryPage:
    identities: Sequence[Identity]
    more: bool
    """True when identities follow the last one on this page."""


def list_directory(
    session: Session,
    *,
    kind: IdentityKind,
    status: IdentityStatus | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int = 25,
) -> DirectoryPage:
    """Identities of ``kind`` oldest first (keyset on creation time and id).

    ``status`` is ``active``, ``suspended`` or ``None`` for both; ``after`` is the
    ``(created_at, id)`` of the last identity of the previous page.
    """
    query = sa.select(Identity).where(Identity.kind == kind)
    if status is None:
        query = query.where(Identity.status.in_([IdentityStatus.ACTIVE, IdentityStatus.SUSPENDED]))
    else:
        query = query.where(Identity.status == status)
    rows, more = oldest_first(session, query, after=after, limit=limit)
    return DirectoryPage(rows, more)
