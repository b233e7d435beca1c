"""The audit trail: one append-only, hash-chained event log that every part of Limen writes to.

``record`` appends in the caller's transaction; the chainer (``link_pending``) links
appended events in batches; ``create_checkpoint`` signs the head; ``verify`` checks it all.
"""

from limen.audit._keys import AuditKeys
from limen.audit.actor import Actor, Authorizer, Resource
from limen.audit.chain import link_pending
from limen.audit.checkpoints import (
    SignedCheckpoint,
    create_checkpoint,
    export_checkpoints,
    list_checkpoints,
    load_checkpoints,
)
from limen.audit.errors import (
    AuditKeyUnavailable,
    CheckpointRequired,
    InvalidCheckpoint,
    InvalidCursor,
    SinkExists,
    SinkNotFound,
)
from limen.audit.log import EventFilter, EventPage, Outcome, RecordedEvent, list_events, record
from limen.audit.reader import EventReader
from limen.audit.retention import PruneResult, prune
from limen.audit.verify import Problem, VerifyReport, verify

__all__ = [
    "Actor",
    "AuditKeyUnavailable",
    "AuditKeys",
    "Authorizer",
    "CheckpointRequired",
    "EventFilter",
    "EventPage",
    "EventReader",
    "InvalidCheckpoint",
    "InvalidCursor",
    "Outcome",
    "Problem",
    "PruneResult",
    "RecordedEvent",
    "Resource",
    "SignedCheckpoint",
    "SinkExists",
    "SinkNotFound",
    "VerifyReport",
    "create_checkpoint",
    "export_checkpoints",
    "link_pending",
    "list_checkpoints",
    "list_events",
    "load_checkpoints",
    "prune",
    "record",
    "verify",
]
