"""An event as a plain JSON document: what sinks push, exports write and the CLI prints."""

from __future__ import annotations

from typing import Any

from limen.store.models import Event

__all__ = ["event_document"]


def event_document(event: Event) -> dict[str, Any]:
    """The event's fields, its chain position and link; never anything but what was recorded."""
    return {
        "id": event.id,
        "seq": event.seq,
        "chain_position": event.chain_pos,
        "link": event.link.hex() if event.link else None,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": {"id": event.actor_id, "kind": event.actor_kind, "name": event.actor_name},
        "delegation": list(event.delegation or []),
        "token_id": event.token_id,
        "action": event.action,
        "resource": {
            "type": event.resource_type,
            "id": event.resource_id,
            "name": event.resource_name,
        },
        "outcome": event.outcome,
        "reason": event.reason,
        "context": dict(event.context or {}),
    }
