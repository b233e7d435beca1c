"""The audit trail: one append-only, hash-chained event log that every part of Limen writes to.

``record`` appends in the caller's transaction; the chainer (``link_pending``) links
appended events in batches; ``create_checkpoint`` signs the head; ``verify`` checks it all.
"""

from __future__ import annotations

import typing

from limen._lazy import door as _door

if typing.TYPE_CHECKING:
    from limen.audit._keys import AuditKeys
    from limen.audit._pruning import PrunePlan, PruneResult
    from limen.audit._signed import SignedCheckpoint, export_checkpoints, load_checkpoints
    from limen.audit.actor import Actor, Authorizer, Resource
    from limen.audit.chain import link_pending, links_in_backend_form
    from limen.audit.checkpoints import create_checkpoint, list_checkpoints
    from limen.audit.errors import (
        AuditKeyMismatch,
        AuditKeyUnavailable,
        CheckpointRequired,
        InvalidCheckpoint,
        SinkExists,
        SinkNotFound,
    )
    from limen.audit.keycheck import check_key
    from limen.audit.log import (
        EVENTS_APPENDED,
        EventFilter,
        EventPage,
        Outcome,
        RecordedEvent,
        last_activity,
        list_events,
        newest_events,
        record,
    )
    from limen.audit.progress import AuditProgress, ChainStatus, audit_progress, chain_status
    from limen.audit.reader import EventReader
    from limen.audit.retention import plan_prune, prune
    from limen.audit.verification import ChainAudit, Problem, VerifyReport, verify

_LAZY: typing.Final = {
    "ChainAudit": "limen.audit.verification",
    "chain_status": "limen.audit.progress",
    "ChainStatus": "limen.audit.progress",
    "AuditKeys": "limen.audit._keys",
    "Actor": "limen.audit.actor",
    "Authorizer": "limen.audit.actor",
    "Resource": "limen.audit.actor",
    "link_pending": "limen.audit.chain",
    "links_in_backend_form": "limen.audit.chain",
    "SignedCheckpoint": "limen.audit._signed",
    "create_checkpoint": "limen.audit.checkpoints",
    "export_checkpoints": "limen.audit._signed",
    "list_checkpoints": "limen.audit.checkpoints",
    "load_checkpoints": "limen.audit._signed",
    "AuditKeyMismatch": "limen.audit.errors",
    "AuditKeyUnavailable": "limen.audit.errors",
    "CheckpointRequired": "limen.audit.errors",
    "InvalidCheckpoint": "limen.audit.errors",
    "SinkExists": "limen.audit.errors",
    "SinkNotFound": "limen.audit.errors",
    "check_key": "limen.audit.keycheck",
    "EVENTS_APPENDED": "limen.audit.log",
    "EventFilter": "limen.audit.log",
    "EventPage": "limen.audit.log",
    "Outcome": "limen.audit.log",
    "RecordedEvent": "limen.audit.log",
    "last_activity": "limen.audit.log",
    "list_events": "limen.audit.log",
    "newest_events": "limen.audit.log",
    "record": "limen.audit.log",
    "AuditProgress": "limen.audit.progress",
    "audit_progress": "limen.audit.progress",
    "EventReader": "limen.audit.reader",
    "PrunePlan": "limen.audit._pruning",
    "PruneResult": "limen.audit._pruning",
    "plan_prune": "limen.audit.retention",
    "prune": "limen.audit.retention",
    "Problem": "limen.audit.verification",
    "VerifyReport": "limen.audit.verification",
    "verify": "limen.audit.verification",
}


__getattr__ = _door(__name__, _LAZY, globals())


__all__ = [
    "EVENTS_APPENDED",
    "Actor",
    "AuditKeyMismatch",
    "AuditKeyUnavailable",
    "AuditKeys",
    "AuditProgress",
    "Authorizer",
    "ChainAudit",
    "ChainStatus",
    "CheckpointRequired",
    "EventFilter",
    "EventPage",
    "EventReader",
    "InvalidCheckpoint",
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
    "chain_status",
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
