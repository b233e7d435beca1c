"""What pruning would delete and what it deleted: plain records, apart from
:mod:`limen.audit.retention` so that a command talking to a server reads the server's
plan and result without loading the database layer."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PrunePlan", "PruneResult"]


@dataclass(frozen=True, slots=True)
class PruneResult:
    deleted: int
    through_position: int
    checkpoint_id: str | None


@dataclass(frozen=True, slots=True)
class PrunePlan:
    """What :func:`prune` would delete now: ``events`` events up to ``through_position``,
    the position of the signed checkpoint ``checkpoint_id``; nothing if that is ``None``."""

    events: int
    from_position: int
    through_position: int
    checkpoint_id: str | None
