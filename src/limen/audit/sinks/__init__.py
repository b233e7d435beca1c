"""Push sinks: the audit trail delivered at least once to webhooks, NATS JetStream, files.

The event log itself is the outbox. Each sink row keeps the chain position it has
delivered through; a dispatcher reads the next events in chain order, hands them to the
sink and only then advances the position, in the database. A sink that is down, or a
Limen that restarts, resumes from the stored position: nothing is lost, and an event is
delivered twice only if Limen stops between a sink's acknowledgement and the commit —
receivers deduplicate by event ``id`` (JetStream does so by itself through ``Nats-Msg-Id``).

Names are imported from their module when first asked for (``limen._lazy``): a command
that only needs the sink kinds, such as ``limen sink add`` talking to a server, does not
load the database layer the outbox needs.
"""

from __future__ import annotations

import typing

from limen._lazy import door as _door

if typing.TYPE_CHECKING:
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

_MODULES: typing.Final = {
    "limen.audit.sinks.base": ("SINK_KINDS", "Sink", "SinkFailure"),
    "limen.audit.sinks.outbox": (
        "SinkStatus",
        "add_sink",
        "deliver_due",
        "get_sink",
        "list_sinks",
        "remove_sink",
    ),
    "limen.audit.sinks.service": ("REMOTE_SINK_KINDS", "Sinks"),
}
_LAZY: typing.Final = {name: module for module, names in _MODULES.items() for name in names}

__getattr__ = _door(__name__, _LAZY, globals())

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
