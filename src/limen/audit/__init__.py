"""The audit trail: one append-only event log that every part of Limen writes to."""

from limen.audit.actor import Actor
from limen.audit.log import EventFilter, EventPage, Outcome, list_events, record

__all__ = ["Actor", "EventFilter", "EventPage", "Outcome", "list_events", "record"]
