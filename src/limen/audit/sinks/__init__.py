"""Push sinks: the audit trail delivered at least once to webhooks, NATS JetStream, files.

The event log itself is the outbox. Each sink row keeps the chain position it has
delivered through; a dispatcher reads the next events in chain order, hands them to the
sink and only then advances the position, in the database. A sink that is down, or a
Limen that restarts, resumes from the stored position: nothing is lost, and an event is
delivered twice only if Limen stops between a sink's acknowledgement and the commit —
receivers deduplicate by event ``id`` (JetStream does so by itself through ``Nats-Msg-Id``).
"""

from limen.audit.sinks.base import SINK_KINDS, Sink, SinkFailure
from limen.audit.sinks.outbox import (
    SinkStatus,
    add_sink,
    deliver_due,
    get_sink,
    list_sinks,
    remove_sink,
)
from limen.audit.sinks.service import REMOTE_SINK_KINDS, Sinks

__all__ = [
    "REMOTE_SINK_KINDS",
    "SINK_KINDS",
    "Sink",
    "SinkFailure",
    "SinkStatus",
    "Sinks",
    "add_sink",
    "deliver_due",
    "get_sink",
    "list_sinks",
    "remove_sink",
]
