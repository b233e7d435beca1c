"""The audit trail: one append-only, hash-chained event log that every part of Limen writes to.

``record`` appends in the caller's transaction; the chainer (``link_pending``) links
appended events in batches; ``create_checkpoint`` signs the head; ``verify`` checks it all.
"""

from limen.audit._keys import AuditKeys
from limen.audit.actor import Actor, Authorizer, Resource
from limen.audit.chain import link_pending, links_in_backend_form
from limen.audit.checkpoints import (
    SignedCheckpoint,
    create_checkpoint,
    export_checkpoints,
    list_checkpoints,
    load_checkpoints,
)
from limen.audit.errors import (
    AuditKeyMismatch,
    AuditKeyUnavailable,
    CheckpointRequired,
    InvalidCheckpoint,
    InvalidCursor,
    SinkExists,
    SinkNotFound,
)
from limen.audit.keycheck import check_key
from limen.audit.log import (
    EventFilter,
    EventPage,
    Outcome,
    RecordedEvent,
    last_activity,
    list_events,
    newest_events,
    record,
)
from limen.audit.progress import AuditProgress, audit_progress
from limen.audit.reader import EventReader
from limen.audit.retention import PrunePlan, PruneResult, plan_prune, prune
from limen.audit.verify import ChainAudit, Problem, VerifyReport, verify

__all__ = [
    "Actor",
    "AuditKeyMismatch",
    "AuditKeyUnavailable",
    "AuditKeys",
    "AuditProgress",
    "Authorizer",
    "ChainAudit",
    "CheckpointRequired",
    "EventFilter",
    "EventPage",
    "EventReader",
    "InvalidCheckpoint",
    "InvalidCursor",
    "Outcome",
    "Problem",
    "PrunePlan",
    "PruneResult",
    "RecordedEvent",
    "Resource",
    "SignedCheckpoint",
    "SinkExists",
    "SinkNotFound",
    "VerifyReport",
    "audit_progress",
    "check_key",
    "create_checkpoint",
    "export_checkpoints",
    "last_activity",
    "link_pending",
    "links_in_backend_form",
    "list_checkpoints",
    "list_events",
    "load_checkpoints",
    "newest_events",
    "plan_prune",
    "prune",
    "record",
    "verify",
]
