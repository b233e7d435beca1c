"""Errors the audit trail raises, under the families in :mod:`limen.errors`."""

from __future__ import annotations

from limen.errors import Conflict, InvalidInput, NotFound, Unavailable

__all__ = [
    "AuditKeyMismatch",
    "AuditKeyUnavailable",
    "CheckpointRequired",
    "InvalidCheckpoint",
    "SinkExists",
    "SinkNotFound",
]


class AuditKeyUnavailable(Unavailable):
    """The key file that keys the chain and signs checkpoints cannot be read."""

    code = "audit-key-unavailable"


class AuditKeyMismatch(Unavailable):
    """The key file is readable but is not the key the audit trail was signed with."""

    code = "audit-key-mismatch"


class InvalidCheckpoint(InvalidInput):
    """A checkpoint file that is malformed or whose signature does not verify."""

    code = "invalid-checkpoint"


class CheckpointRequired(Conflict):
    """Pruning needs a signed checkpoint covering everything it would delete."""

    code = "checkpoint-required"


class SinkNotFound(NotFound):
    """No push sink has that name or id."""

    code = "sink-not-found"


class SinkExists(Conflict):
    """A push sink with that name already exists."""

    code = "sink-exists"
